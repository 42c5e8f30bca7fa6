"""The lifecycle of a receivable and the one table of moves it allows."""

from __future__ import annotations

from enum import StrEnum

from debtsale.errors import IllegalTransitionError

__all__ = ["ALLOWED", "HELD", "ExclusionReason", "ReceivableState", "check_transition"]


class ReceivableState(StrEnum):
    """``open → eligible → in portfolio → sold → put-back requested → put back | rejected``.

    Side exits: ``removed`` (dropped before closing, with a reason), ``paid`` (settled
    before cut-off), ``replaced`` (swapped for another in a put-back).
    """

    OPEN = "open"
    ELIGIBLE = "eligible"
    IN_PORTFOLIO = "in_portfolio"
    SOLD = "sold"
    PUTBACK_REQUESTED = "putback_requested"
    PUT_BACK = "put_back"
    PUTBACK_REJECTED = "putback_rejected"
    REMOVED = "removed"
    PAID = "paid"
    REPLACED = "replaced"


class ExclusionReason(StrEnum):
    """Why a receivable leaves a sale before closing (or is never offered)."""

    BANKRUPTCY = "bankruptcy"
    DECEASED_GUARANTOR = "deceased_guarantor"
    FRAUD = "fraud"
    ACTIVE_DISPUTE = "active_dispute"
    SETTLEMENT = "settlement"
    PLACED_ELSEWHERE = "placed_elsewhere"
    TIME_BARRED = "time_barred"
    PAID_IN_FULL = "paid_in_full"
    VOIDED = "voided"
    MEDICAL = "medical"
    CURRENCY = "currency"


S = ReceivableState

ALLOWED: dict[ReceivableState, frozenset[ReceivableState]] = {
    S.OPEN: frozenset({S.ELIGIBLE, S.PAID, S.REMOVED}),
    S.ELIGIBLE: frozenset({S.OPEN, S.IN_PORTFOLIO, S.PAID, S.REMOVED}),
    S.IN_PORTFOLIO: frozenset({S.SOLD, S.REMOVED}),
    S.SOLD: frozenset({S.PUTBACK_REQUESTED}),
    S.PUTBACK_REQUESTED: frozenset({S.PUT_BACK, S.PUTBACK_REJECTED, S.REPLACED}),
    S.PUTBACK_REJECTED: frozenset({S.PUTBACK_REQUESTED}),
    S.PUT_BACK: frozenset(),
    S.REPLACED: frozenset(),
    S.REMOVED: frozenset({S.OPEN}),
    S.PAID: frozenset({S.OPEN}),
}
"""Every allowed move; anything else is an error naming the rule ``lifecycle.<from>``."""

HELD: frozenset[ReceivableState] = frozenset(
    {S.IN_PORTFOLIO, S.SOLD, S.PUTBACK_REQUESTED, S.PUTBACK_REJECTED}
)
"""States in which a portfolio holds a receivable: in a live sale, or the buyer's. A held
receivable is in no other portfolio; removed, put-back and replaced ones are the seller's
once more and may be sold again."""


def check_transition(current: ReceivableState, target: ReceivableState, receivable: str) -> None:
    """Raise IllegalTransitionError unless ``current → target`` is in the table."""
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(ALLOWED[current])) or "nothing (final state)"
        raise IllegalTransitionError(
            f"lifecycle.{current}",
            f"receivable {receivable} cannot go from {current} to {target}; "
            f"from {current} it may go to: {allowed}",
        )
