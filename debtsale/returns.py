"""The buyer's returns: a put-back request checked against the agreement, then decided.

A request that passes rule 5 waits for the seller; accepted, it is refunded (rule 6) or
replaced by another receivable of at least the same face; declined or failing a rule, it
is answered with the rule's name. Each step raises its event on the portfolio.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from debtsale.agreement import Agreement
from debtsale.errors import RuleViolation
from debtsale.events import PutbackAccepted, PutbackRejected, PutbackRequested
from debtsale.ledger import Receivable
from debtsale.lines import PortfolioLine, S, Treatment
from debtsale.money import Money
from debtsale.putback import (
    PutbackDecision,
    PutbackRecord,
    PutbackRequest,
    PutbackStatus,
    check_request,
    refund_for,
)

if TYPE_CHECKING:
    from debtsale.portfolio import Portfolio

__all__ = ["decide_putback", "request_putback"]


def request_putback(
    portfolio: Portfolio,
    request: PutbackRequest,
    agreement: Agreement,
    collections: Money | None = None,
    *,
    keep_rejection: bool = True,
) -> PutbackDecision:
    """Check a request against the agreement (rule 5); pending if it passes.

    ``collections`` is what the buyer already received on the receivable through the
    seller (amounts due to it). The same request id again returns the first answer.
    With ``keep_rejection=False`` a rejected request leaves the portfolio untouched
    (no record, no event): the caller keeps it elsewhere (lines of buyers' files).
    """
    if request.request_id in portfolio.putbacks:
        return portfolio.putbacks[request.request_id].decision
    keep = keep_rejection
    if portfolio.closing is None:
        return _reject(
            portfolio,
            request,
            "putback.portfolio_closed",
            f"portfolio {portfolio.id} is not closed",
            None,
            keep=keep,
        )
    line = portfolio.lines.get(request.receivable_id)
    if line is None or not line.sold:
        return _reject(
            portfolio,
            request,
            "putback.receivable_sold",
            f"receivable {request.receivable_id} was not sold in portfolio {portfolio.id}",
            None,
            keep=keep,
        )
    terms = agreement.putback
    failed = check_request(
        request,
        terms,
        portfolio.closing,
        already_returned=line.state in (S.PUT_BACK, S.REPLACED),
        pending=line.state is S.PUTBACK_REQUESTED,
    )
    if failed is None and request.replacement_id and not terms.replacement_allowed:
        failed = (
            "putback.replacement_allowed",
            "the agreement does not allow replacement instead of a refund",
        )
    if failed is None:
        refund = _refund(portfolio, line, agreement, request, collections)
        cap = _cap_exceeded(portfolio, agreement, refund)
        failed = ("putback.cap", cap) if cap else None
    if failed is not None:
        return _reject(portfolio, request, *failed, line, keep=keep)
    line.move(S.PUTBACK_REQUESTED, request.reason.value)
    decision = PutbackDecision(request.request_id, PutbackStatus.PENDING)
    portfolio.putbacks[request.request_id] = PutbackRecord(request, decision)
    portfolio.events.append(
        PutbackRequested(
            portfolio_id=portfolio.id,
            request_id=request.request_id,
            receivable_id=request.receivable_id,
            reason=request.reason.value,
        )
    )
    return decision


def decide_putback(
    portfolio: Portfolio,
    request_id: str,
    *,
    accept: bool,
    decided_on: date,
    agreement: Agreement,
    collections: Money | None = None,
    replacement: tuple[Receivable, str] | None = None,
    note: str = "",
    reinstate: bool = False,
) -> PutbackDecision:
    """Accept (refund, or replace with ``(receivable, customer_id)``) or decline.

    ``reinstate``: the seller pursues the refunded receivable itself, so it is booked
    back at the refund (DOMAIN: "reinstate it at the refund amount, not at face").
    """
    record = portfolio.putbacks.get(request_id)
    if record is None:
        raise RuleViolation("putback.known", f"no put-back request {request_id}")
    if record.decision.status is not PutbackStatus.PENDING:
        return record.decision  # decided already: deciding again changes nothing
    request = record.request
    line = portfolio.line(request.receivable_id)
    if not accept:
        decision = PutbackDecision(
            request_id,
            PutbackStatus.REJECTED,
            "putback.seller_declined",
            note,
            decided_on=decided_on,
        )
        record.decision = decision
        line.move(S.PUTBACK_REJECTED, decision.rule)
        _announce_rejection(portfolio, request, "putback.seller_declined", note)
        return decision
    if replacement is not None:
        return _replace(portfolio, record, line, replacement, agreement, decided_on)
    refund = _refund(portfolio, line, agreement, request, collections)
    cap = _cap_exceeded(portfolio, agreement, refund)
    if cap:
        raise RuleViolation("putback.cap", cap)
    record.decision = PutbackDecision(
        request_id,
        PutbackStatus.ACCEPTED,
        refund=refund,
        decided_on=decided_on,
        reinstated=reinstate and not refund.is_zero,
    )
    line.move(S.PUT_BACK)
    line.returned_on = decided_on
    portfolio.events.append(
        PutbackAccepted(
            portfolio_id=portfolio.id,
            request_id=request_id,
            receivable_id=line.receivable_id,
            refund=refund,
            replacement_id=None,
        )
    )
    return record.decision


def _reject(
    portfolio: Portfolio,
    request: PutbackRequest,
    rule: str,
    detail: str,
    line: PortfolioLine | None,
    *,
    keep: bool = True,
) -> PutbackDecision:
    decision = PutbackDecision(
        request.request_id,
        PutbackStatus.REJECTED,
        rule,
        detail,
        decided_on=request.requested_on,
    )
    if not keep:
        return decision
    portfolio.putbacks[request.request_id] = PutbackRecord(request, decision)
    if line is not None and line.state in (S.SOLD, S.PUTBACK_REJECTED):
        line.move(S.PUTBACK_REQUESTED)
        line.move(S.PUTBACK_REJECTED, rule)
    _announce_rejection(portfolio, request, rule, detail)
    return decision


def _announce_rejection(
    portfolio: Portfolio, request: PutbackRequest, rule: str, detail: str
) -> None:
    portfolio.events.append(
        PutbackRejected(
            portfolio_id=portfolio.id,
            request_id=request.request_id,
            receivable_id=request.receivable_id,
            rule=rule,
            detail=detail,
        )
    )


def _cap_exceeded(portfolio: Portfolio, agreement: Agreement, refund: Money) -> str | None:
    cap = agreement.putback.cap_percent
    if cap is None:
        return None
    limit = portfolio.total_price.times(cap / 100)
    if portfolio.refunds + refund > limit:
        return (
            f"refunds would reach {portfolio.refunds + refund}, over the cap of {cap} % "
            f"of the portfolio price ({limit})"
        )
    return None


def _refund(
    portfolio: Portfolio,
    line: PortfolioLine,
    agreement: Agreement,
    request: PutbackRequest,
    collections: Money | None,
) -> Money:
    assert line.price is not None
    collected = (collections or Money.zero(portfolio.currency)) + (
        request.buyer_collections or Money.zero(portfolio.currency)
    )
    return refund_for(agreement.putback.refund_method, line.price, collected)


def _replace(
    portfolio: Portfolio,
    record: PutbackRecord,
    line: PortfolioLine,
    replacement: tuple[Receivable, str],
    agreement: Agreement,
    decided_on: date,
) -> PutbackDecision:
    substitute, customer_id = replacement
    if not agreement.putback.replacement_allowed:
        raise RuleViolation(
            "putback.replacement_allowed", "the agreement does not allow replacement"
        )
    if substitute.id in portfolio.lines:
        raise RuleViolation(
            "putback.replacement_new", f"{substitute.id} is already in portfolio {portfolio.id}"
        )
    face = substitute.face_on(decided_on)
    assert line.final_face is not None
    if face < line.final_face:
        raise RuleViolation(
            "putback.replacement_face",
            f"replacement face {face} is below the returned {line.final_face}",
        )
    portfolio.lines[substitute.id] = PortfolioLine(
        receivable_id=substitute.id,
        customer_id=customer_id,
        invoice_number=substitute.number,
        face_at_cutoff=face,
        rate=Decimal(0),
        cohort=line.cohort,
        counted_at_cutoff={},
        state=S.SOLD,
        final_face=face,
        days_past_due=substitute.days_past_due(decided_on),
        price=Money.zero(portfolio.currency),
        allowance=Money.zero(portfolio.currency),
        accounted_at_close={
            a.key: (Treatment.IN_FACE, a.amount)
            for a in substitute.applications
            if a.effective <= decided_on
        },
        replaces=line.receivable_id,
    )
    line.move(S.REPLACED)
    line.returned_on = decided_on
    record.decision = PutbackDecision(
        record.request.request_id,
        PutbackStatus.ACCEPTED,
        refund=Money.zero(portfolio.currency),
        replacement_id=substitute.id,
        decided_on=decided_on,
    )
    portfolio.events.append(
        PutbackAccepted(
            portfolio_id=portfolio.id,
            request_id=record.request.request_id,
            receivable_id=line.receivable_id,
            refund=Money.zero(portfolio.currency),
            replacement_id=substitute.id,
        )
    )
    return record.decision
