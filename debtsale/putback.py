"""Put-backs: the buyer returns a receivable; the agreement's rules decide, a refund follows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from debtsale.agreement import PutbackReason, PutbackTerms, RefundMethod
from debtsale.money import Money

__all__ = [
    "PutbackDecision",
    "PutbackRecord",
    "PutbackRequest",
    "PutbackStatus",
    "check_request",
    "refund_for",
]


@dataclass(frozen=True, slots=True)
class PutbackRequest:
    """What the buyer asks: return this receivable, for this reason, with this evidence."""

    request_id: str
    receivable_id: str
    reason: PutbackReason
    fact_date: date  # when the fact that makes it returnable arose
    requested_on: date
    evidence: Mapping[str, str] = field(default_factory=dict)  # kind → reference
    buyer_collections: Money | None = None  # what the buyer collected on it itself
    replacement_id: str | None = None


class PutbackStatus(StrEnum):
    """Where a request stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class PutbackDecision:
    """The outcome: accepted with a refund (or a replacement), or the failed rule."""

    request_id: str
    status: PutbackStatus
    rule: str | None = None
    detail: str = ""
    refund: Money | None = None
    replacement_id: str | None = None
    decided_on: date | None = None
    reinstated: bool = False  # refunded and booked back at the refund, to pursue it again


@dataclass
class PutbackRecord:
    """A request and, once made, its decision."""

    request: PutbackRequest
    decision: PutbackDecision


def check_request(
    request: PutbackRequest,
    terms: PutbackTerms,
    closing: date,
    *,
    already_returned: bool,
    pending: bool,
) -> tuple[str, str] | None:
    """The first rule (DOMAIN rule 5) the request fails, as ``(rule, why)``, else None.

    The cap is checked separately, where refunds are known.
    """
    last_day = closing + timedelta(days=terms.window_days)
    checks: list[tuple[bool, str, str]] = [
        (
            already_returned,
            "putback.not_already_put_back",
            f"receivable {request.receivable_id} was already put back or replaced",
        ),
        (
            pending,
            "putback.one_open_request",
            f"receivable {request.receivable_id} already has a request awaiting decision",
        ),
        (
            request.requested_on > last_day,
            "putback.window",
            f"requested {request.requested_on}, after the window closed on {last_day} "
            f"({terms.window_days} days from closing {closing})",
        ),
        (
            request.reason not in terms.allowed_reasons,
            "putback.reason_allowed",
            f"reason {request.reason} is not one the agreement allows "
            f"({', '.join(sorted(terms.allowed_reasons))})",
        ),
        (
            request.fact_date >= closing,
            "putback.fact_predates_closing",
            f"the fact arose {request.fact_date}, not before closing {closing}",
        ),
    ]
    for failed, rule, why in checks:
        if failed:
            return rule, why
    required = terms.evidence.get(request.reason, ())
    missing = [kind for kind in required if not request.evidence.get(kind)]
    if missing:
        return "putback.evidence", f"missing evidence for {request.reason}: {', '.join(missing)}"
    return None


def refund_for(method: RefundMethod, price: Money, collections: Money) -> Money:
    """Rule 6: the price, or the price less what the buyer collected; always 0 ≤ r ≤ price."""
    zero = Money.zero(price.currency)
    refund = price if method is RefundMethod.PRICE else (price - collections).max(zero)
    return refund.max(zero).min(price)
