"""Put-back commands: the buyer's request is checked against the agreement, then decided."""

from __future__ import annotations

from debtsale.commands import DecidePutback, RequestPutback
from debtsale.errors import RuleViolation
from debtsale.events import DomainEvent
from debtsale.journal import putback_refund_entry, replacement_entry
from debtsale.ledger import Ledger, Receivable
from debtsale.money import Money
from debtsale.portfolio import Portfolio
from debtsale.putback import PutbackRequest, PutbackStatus
from debtsale.remittance import amounts_due, collections_on
from handlers.outcome import Outcome, load_portfolio, once, save_portfolio
from handlers.ports import UnitOfWork
from handlers.remittance import settle_dues

__all__ = ["decide_putback", "request_putback"]


def _collections(
    uow: UnitOfWork, portfolio: Portfolio, ledger: Ledger, receivable_id: str
) -> Money:
    """What the buyer already received on the receivable through the seller."""
    agreement = uow.agreements.get(portfolio.agreement_id)
    items = amounts_due(portfolio, ledger, agreement.remittance)
    return collections_on(items, receivable_id, portfolio.currency)


@once
def request_putback(uow: UnitOfWork, command: RequestPutback) -> Outcome:
    """Record the buyer's request: pending when the rules pass, rejected with the rule if not."""
    portfolio = load_portfolio(uow, command.portfolio_id)
    request = PutbackRequest(
        request_id=command.request_id,
        receivable_id=command.receivable_id,
        reason=command.reason,
        fact_date=command.fact_date,
        requested_on=command.requested_on,
        evidence=dict(command.evidence),
        buyer_collections=command.buyer_collections,
        replacement_id=command.replacement_id,
    )
    portfolio.request_putback(
        request,
        uow.agreements.get(portfolio.agreement_id),
        _collections(uow, portfolio, uow.ledger.load(portfolio.tenant), command.receivable_id),
    )
    save_portfolio(uow, portfolio)
    return Outcome.APPLIED


def _replacement(
    uow: UnitOfWork, portfolio: Portfolio, ledger: Ledger, receivable_id: str
) -> tuple[Receivable, str]:
    receivable = ledger.receivable(receivable_id)
    if receivable is None or receivable.removal is not None:
        raise RuleViolation("putback.replacement_known", f"no open receivable {receivable_id}")
    if receivable_id in uow.portfolios.unavailable(portfolio.tenant):
        raise RuleViolation(
            "putback.replacement_available", f"{receivable_id} is in a live sale or sold"
        )
    return receivable, receivable.customer_id


@once
def decide_putback(uow: UnitOfWork, command: DecidePutback) -> Outcome:
    """Accept (refund or replacement) or decline a pending request; request its journal entry."""
    portfolio = load_portfolio(uow, command.portfolio_id)
    record = portfolio.putbacks.get(command.request_id)
    if record is None:
        raise RuleViolation("putback.known", f"no put-back request {command.request_id}")
    already = record.decision.status is not PutbackStatus.PENDING
    ledger = uow.ledger.load(portfolio.tenant)  # read after the portfolio
    replacement_id = command.replacement_id or record.request.replacement_id
    decision = portfolio.decide_putback(
        command.request_id,
        accept=command.accept,
        decided_on=command.decided_on,
        agreement=uow.agreements.get(portfolio.agreement_id),
        collections=_collections(uow, portfolio, ledger, record.request.receivable_id),
        replacement=(
            _replacement(uow, portfolio, ledger, replacement_id)
            if command.accept and replacement_id and not already
            else None
        ),
        note=command.note,
        reinstate=command.reinstate,
    )
    entries: list[DomainEvent] = []
    if not already and decision.status is PutbackStatus.ACCEPTED:
        if decision.replacement_id is not None:
            entry = replacement_entry(portfolio, decision)
        else:
            customer = portfolio.line(record.request.receivable_id).customer_id
            entry = putback_refund_entry(portfolio, decision, customer, reinstate=command.reinstate)
        entries.append(entry.as_event(portfolio.id))
    for event in [*portfolio.pull_events(), *entries]:
        uow.events.publish(event)
    # a receivable returned is the seller's again: what it collects later is not owed
    settle_dues(uow, portfolio, ledger, command.decided_on)
    save_portfolio(uow, portfolio)
    return Outcome.APPLIED
