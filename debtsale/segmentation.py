"""Segmentation: the cohort a buyer prices a receivable in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

from debtsale.changes import DebtorProfile, Documentation
from debtsale.ledger import Receivable
from debtsale.statute import Limitation, StatuteTable

__all__ = ["BALANCE_TIER_BOUNDS", "Segment", "age_bucket", "balance_tier", "segment"]

BALANCE_TIER_BOUNDS: tuple[Decimal, ...] = (Decimal(500), Decimal(2000), Decimal(10000))
_YOUNG, _MIDDLE, _OLD = 90, 180, 365


def age_bucket(days_past_due: int) -> str:
    """``0-90`` (not offered by default), ``91-180``, ``181-365`` or ``365+``."""
    if days_past_due <= _YOUNG:
        return "0-90"
    if days_past_due <= _MIDDLE:
        return "91-180"
    if days_past_due <= _OLD:
        return "181-365"
    return "365+"


def balance_tier(face: Decimal, bounds: tuple[Decimal, ...] = BALANCE_TIER_BOUNDS) -> str:
    """``<500``, ``500-2000``, ``2000-10000``, ``>10000`` for the default bounds.

    A tier includes its upper bound: 2,000.00 is ``500-2000``, 10,000.00 is ``2000-10000``.
    """
    if face < bounds[0]:
        return f"<{bounds[0]}"
    for low, high in pairwise(bounds):
        if face <= high:
            return f"{low}-{high}"
    return f">{bounds[-1]}"


@dataclass(frozen=True, slots=True)
class Segment:
    """Everything a buyer prices a receivable by, as of one date."""

    age_bucket: str
    balance_tier: str
    documentation: Documentation
    payment_history: bool
    personal_guarantee: bool
    industry: str
    location: str
    limitation: Limitation

    @property
    def cohort(self) -> tuple[str, str, str]:
        """The valuation cohort: age bucket, balance tier, documentation."""
        return (self.age_bucket, self.balance_tier, self.documentation.value)


def segment(
    receivable: Receivable,
    profile: DebtorProfile | None,
    as_of: date,
    statute: StatuteTable,
    bounds: tuple[Decimal, ...] = BALANCE_TIER_BOUNDS,
) -> Segment:
    """Place a receivable in its segment as of ``as_of``."""
    profile = profile or DebtorProfile(legal_name="")
    last = receivable.last_payment(as_of)
    return Segment(
        age_bucket=age_bucket(receivable.days_past_due(as_of)),
        balance_tier=balance_tier(receivable.face_on(as_of).amount, bounds),
        documentation=profile.documentation,
        payment_history=bool(receivable.payments()),
        personal_guarantee=profile.personal_guarantee,
        industry=profile.industry,
        location=profile.address.region,
        limitation=statute.limitation(
            profile.address.region,
            profile.documentation,
            receivable.default_date,
            last.effective if last else None,
        ),
    )
