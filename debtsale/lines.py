"""A portfolio's parts: its lines (one receivable each), their adjustments, and its records.

Separate from ``debtsale.portfolio`` so the rules that act on a portfolio (the close, the
buyer's returns) can use them without importing the aggregate itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from debtsale.lifecycle import ReceivableState, check_transition
from debtsale.money import Money, total

__all__ = [
    "Adjustment",
    "AnnouncedCandidate",
    "AnnouncedDue",
    "PortfolioLine",
    "PortfolioStatus",
    "Remittance",
    "Treatment",
]

S = ReceivableState


class PortfolioStatus(StrEnum):
    """A portfolio is cut (live, changeable) and then closed (sold)."""

    CUT = "cut"
    CLOSED = "closed"


class Treatment(StrEnum):
    """How an application between cut-off and closing was reconciled."""

    IN_FACE = "in_face"  # counted in the face at cut-off
    RESTATED = "restated"  # effective by cut-off, recorded after the cut: face restated
    REDUCED_FACE = "reduced_face"  # face and price dropped by it
    OWED_TO_BUYER = "owed_to_buyer"  # face unchanged; the money is the buyer's
    REMOVED = "removed"  # the receivable left the sale


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One change between the frozen face and the final face, or money owed instead."""

    source: str  # application key ("payment:P1"), or "removal"
    treatment: Treatment
    face_effect: Money  # what it did to the face (≤ 0 for payments)
    owed_to_buyer: Money  # what of it belongs to the buyer
    effective: date | None = None
    recorded: date | None = None


@dataclass(frozen=True, slots=True)
class Remittance:
    """A payment from the seller to the buyer of what was collected for it."""

    remittance_id: str
    paid_on: date
    amount: Money


@dataclass(frozen=True, slots=True)
class AnnouncedDue:
    """An amount the seller announced as owed to the buyer, as last announced.

    ``edition`` counts announcements of the same payment (0 first); a payment voided,
    deleted or changed is withdrawn, and announced again under the next edition if it
    comes back, so every announcement and withdrawal has an id of its own.
    """

    receivable_id: str
    source: str
    amount: Money
    received_on: date
    due_on: date
    edition: int = 0
    withdrawn: bool = False
    withdrawn_on: date | None = None


@dataclass(frozen=True, slots=True)
class AnnouncedCandidate:
    """A payment dated by cut-off that the sale did not see, as last announced.

    It makes its receivable a *paid before sale* put-back candidate, and its journal
    entry moves the platform's receivable credit against the loss on sale. Editions and
    withdrawals work as for ``AnnouncedDue``.
    """

    receivable_id: str
    source: str
    amount: Money
    paid_on: date
    recorded_on: date
    edition: int = 0
    withdrawn: bool = False
    withdrawn_on: date | None = None


@dataclass
class PortfolioLine:
    """One receivable in one portfolio, from cut to its final state."""

    receivable_id: str
    customer_id: str
    invoice_number: str
    face_at_cutoff: Money
    rate: Decimal
    cohort: tuple[str, str, str]
    counted_at_cutoff: dict[str, Money]
    state: ReceivableState = S.IN_PORTFOLIO
    reason: str | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    final_face: Money | None = None
    price: Money | None = None
    allowance: Money | None = None
    accounted_at_close: dict[str, tuple[Treatment, Money]] = field(default_factory=dict)
    replaces: str | None = None
    returned_on: date | None = None  # put back or replaced: later payments are the seller's
    days_past_due: int | None = None  # at the cut-off (at the decision, for a replacement)

    @property
    def currency(self) -> str:
        """The line's currency (the portfolio's)."""
        return self.face_at_cutoff.currency

    @property
    def price_at_cutoff(self) -> Money:
        """Rule 1: ``round_half_even(rate × face_at_cutoff)``."""
        return self.face_at_cutoff.times(self.rate)

    @property
    def face_adjustments(self) -> Money:
        """The sum of the adjustments' effects on face."""
        return total((a.face_effect for a in self.adjustments), self.currency)

    @property
    def owed_to_buyer_at_close(self) -> Money:
        """Money received between cut-off and closing that the buyer is owed."""
        return total((a.owed_to_buyer for a in self.adjustments), self.currency)

    @property
    def sold(self) -> bool:
        """True once the line was sold (whatever happened after)."""
        return self.final_face is not None and self.state not in (S.REMOVED, S.IN_PORTFOLIO)

    def move(self, target: ReceivableState, reason: str | None = None) -> None:
        """Move along the lifecycle; an illegal move raises naming the rule."""
        check_transition(self.state, target, self.receivable_id)
        self.state = target
        if reason is not None:
            self.reason = reason
