"""Eligibility: whether an agreement may take a receivable on a date, and if not, why."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from debtsale.agreement import ALWAYS_EXCLUDED, Agreement
from debtsale.changes import DebtorProfile
from debtsale.ledger import Receivable
from debtsale.lifecycle import ExclusionReason
from debtsale.segmentation import Segment, segment
from debtsale.statute import StatuteTable

__all__ = ["Criterion", "Eligibility", "assess"]


class Criterion(StrEnum):
    """Trigger criteria a receivable can fail, beside the exclusion reasons."""

    TOO_RECENT = "too_recent"
    BALANCE_OUT_OF_RANGE = "balance_out_of_range"
    EXCLUDED_CUSTOMER = "excluded_customer"
    NO_RATE = "no_rate"


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The verdict for one receivable: its segment, rate, and every reason against it."""

    receivable_id: str
    segment: Segment | None
    rate: Decimal | None
    reasons: tuple[str, ...]
    near_expiry: bool = False  # flag for the controller: the claim expires soon

    @property
    def eligible(self) -> bool:
        """True when nothing speaks against offering it."""
        return not self.reasons


def assess(
    receivable: Receivable,
    profile: DebtorProfile | None,
    agreement: Agreement,
    as_of: date,
    statute: StatuteTable,
    flags: Collection[ExclusionReason] = (),
) -> Eligibility:
    """Assess one receivable against the agreement's trigger and exclusions on ``as_of``.

    ``flags`` are the exclusion facts the firm recorded for the debtor or invoice
    (bankruptcy, dispute …). Time-barred receivables are never eligible.
    """
    reasons: list[str] = []
    if receivable.removal is not None:
        return Eligibility(receivable.id, None, None, (ExclusionReason.VOIDED.value,))
    if receivable.currency != agreement.currency:
        return Eligibility(receivable.id, None, None, (ExclusionReason.CURRENCY.value,))
    face = receivable.face_on(as_of)
    if face.is_zero:
        reasons.append(ExclusionReason.PAID_IN_FULL.value)
    found = segment(receivable, profile, as_of, statute)
    if receivable.days_past_due(as_of) < agreement.trigger.min_days_past_due:
        reasons.append(Criterion.TOO_RECENT.value)
    if not face.is_zero and not agreement.in_balance_range(face):
        reasons.append(Criterion.BALANCE_OUT_OF_RANGE.value)
    if receivable.customer_id in agreement.trigger.exclude_customers:
        reasons.append(Criterion.EXCLUDED_CUSTOMER.value)
    if found.limitation.time_barred(as_of):
        reasons.append(ExclusionReason.TIME_BARRED.value)
    if profile is not None and profile.medical and not agreement.trigger.allow_medical:
        reasons.append(ExclusionReason.MEDICAL.value)
    reasons.extend(sorted(flag.value for flag in set(flags) & ALWAYS_EXCLUDED))
    rate = agreement.rate_for(*found.cohort)
    if rate is None:
        reasons.append(Criterion.NO_RATE.value)
    near = found.limitation.near_expiry(as_of, agreement.trigger.near_expiry_months)
    return Eligibility(receivable.id, found, rate, tuple(dict.fromkeys(reasons)), near)
