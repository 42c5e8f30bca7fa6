"""Valuation per cohort: the buyer's offer beside what collecting it ourselves would bring."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from debtsale.agreement import Agreement
from debtsale.completeness import present_fields, shares
from debtsale.eligibility import assess
from debtsale.ledger import Ledger
from debtsale.lifecycle import ExclusionReason
from debtsale.money import Money, Rate, total
from debtsale.statute import StatuteTable

__all__ = [
    "CohortValuation",
    "Recommendation",
    "RecoveryAssumption",
    "ValuationReport",
    "value_receivables",
]


class Recommendation(StrEnum):
    """Sell where the offer beats internal recovery, else keep collecting."""

    SELL = "sell"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class RecoveryAssumption:
    """The firm's own history for a cohort: share recovered and cost per account worked."""

    recovery_rate: Rate
    cost_to_collect_per_account: Decimal


DEFAULT_RECOVERY: dict[str, RecoveryAssumption] = {
    "91-180": RecoveryAssumption(Decimal("0.25"), Decimal("40")),
    "181-365": RecoveryAssumption(Decimal("0.12"), Decimal("45")),
    "365+": RecoveryAssumption(Decimal("0.05"), Decimal("50")),
}
"""Illustrative defaults; a firm supplies its own collection history."""


@dataclass(frozen=True, slots=True)
class CohortValuation:
    """One cohort's figures."""

    age_bucket: str
    balance_tier: str
    documentation: str
    count: int
    face: Money
    offer: Money
    internal_recovery: Money
    recommendation: Recommendation
    completeness: Mapping[str, Decimal] = field(default_factory=dict)
    """Share of the cohort's receivables with each field buyers ask for
    (``debtsale.completeness``)."""

    @property
    def offer_rate(self) -> Decimal:
        """Effective offer in cents on the dollar (offer ÷ face)."""
        if self.face.is_zero:
            return Decimal(0)
        return (self.offer.amount / self.face.amount).quantize(Decimal("0.0001"))


@dataclass(frozen=True, slots=True)
class ValuationReport:
    """Offers and internal recovery for every eligible cohort, and why others were left."""

    agreement_id: str
    as_of: date
    currency: str
    cohorts: tuple[CohortValuation, ...]
    excluded: Mapping[str, int] = field(default_factory=dict)
    near_expiry: int = 0

    @property
    def count(self) -> int:
        """Receivables offered."""
        return sum(c.count for c in self.cohorts)

    @property
    def face(self) -> Money:
        """Σ face of the receivables offered."""
        return total((c.face for c in self.cohorts), self.currency)

    @property
    def offer(self) -> Money:
        """Σ offers (each the sum of its receivables' rounded prices)."""
        return total((c.offer for c in self.cohorts), self.currency)

    @property
    def internal_recovery(self) -> Money:
        """Σ expected internal recovery."""
        return total((c.internal_recovery for c in self.cohorts), self.currency)


_AGE_ORDER = ("0-90", "91-180", "181-365", "365+")


def _cohort_order(cohort: tuple[str, str, str]) -> tuple[int, Decimal, str]:
    """Youngest first, then smallest balances: the order a reader expects."""
    age, tier, documentation = cohort
    digits = "".join(c if c.isdigit() or c == "-" else " " for c in tier).split()
    low = Decimal(digits[0].split("-")[0]) if digits else Decimal(0)
    if tier.startswith("<"):
        low = Decimal(-1)
    order = _AGE_ORDER.index(age) if age in _AGE_ORDER else len(_AGE_ORDER)
    return order, low, documentation


def value_receivables(
    ledger: Ledger,
    agreement: Agreement,
    as_of: date,
    *,
    statute: StatuteTable | None = None,
    recovery: Mapping[str, RecoveryAssumption] | None = None,
    flags: Mapping[str, Collection[ExclusionReason]] | None = None,
    taken: Collection[str] = (),
) -> ValuationReport:
    """Assess every open receivable and value the eligible ones per cohort."""
    statute = statute or StatuteTable.shipped()
    recovery = DEFAULT_RECOVERY if recovery is None else recovery
    flags = flags or {}
    currency = agreement.currency
    faces: dict[tuple[str, str, str], list[Money]] = {}
    prices: dict[tuple[str, str, str], list[Money]] = {}
    present: dict[tuple[str, str, str], list[frozenset[str]]] = {}
    excluded: Counter[str] = Counter()
    near = 0
    for receivable in ledger.receivables():
        if receivable.id in taken or receivable.removal is not None:
            continue
        verdict = assess(
            receivable,
            ledger.profile(receivable.customer_id),
            agreement,
            as_of,
            statute,
            flags.get(receivable.id, ()),
        )
        if not verdict.eligible:
            excluded.update(verdict.reasons[:1])  # counted once, by its first reason
            continue
        assert verdict.segment is not None
        assert verdict.rate is not None
        near += verdict.near_expiry
        face = receivable.face_on(as_of)
        present.setdefault(verdict.segment.cohort, []).append(
            present_fields(receivable, ledger.profile(receivable.customer_id), as_of)
        )
        faces.setdefault(verdict.segment.cohort, []).append(face)
        prices.setdefault(verdict.segment.cohort, []).append(face.times(verdict.rate))
    cohorts = []
    for cohort in sorted(faces, key=_cohort_order):
        face = total(faces[cohort], currency)
        offer = total(prices[cohort], currency)
        assumption = recovery.get(cohort[0], RecoveryAssumption(Decimal(0), Decimal(0)))
        internal = face.times(assumption.recovery_rate) - Money.of(
            assumption.cost_to_collect_per_account * len(faces[cohort]), currency
        )
        cohorts.append(
            CohortValuation(
                *cohort,
                count=len(faces[cohort]),
                face=face,
                offer=offer,
                internal_recovery=internal,
                recommendation=Recommendation.SELL if offer > internal else Recommendation.KEEP,
                completeness=shares(present[cohort]),
            )
        )
    return ValuationReport(agreement.id, as_of, currency, tuple(cohorts), dict(excluded), near)
