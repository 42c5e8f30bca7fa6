"""Money for the buyer: amounts due when a sold receivable is paid, and remittances of it."""

from __future__ import annotations

from datetime import date

from debtsale.commands import RecordRemittance
from debtsale.journal import remittance_entry
from debtsale.portfolio import Remittance
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport
from debtsale.settlement import settle_after_sale
from handlers.outcome import COMMANDS_CONSUMER, Outcome, load_portfolio, save_portfolio
from handlers.ports import UnitOfWork

__all__ = ["owe_buyer", "record_remittance"]


def owe_buyer(uow: UnitOfWork, tenant: str, on: date) -> int:
    """Announce (or withdraw) what the seller owes buyers on the tenant's sold receivables.

    Runs inside the ledger handler's unit of work after a payment changed (``on`` is when
    it changed). ``settle_after_sale`` derives amounts due and paid-before-sale candidates
    from the facts (order-independent) against what the portfolio already announced, so
    a voided, deleted or changed payment is withdrawn with a reversing entry, and each
    announcement and withdrawal has an id of its own. Returns how many items are due.
    """
    closed = uow.portfolios.closed(tenant)
    if not closed:
        return 0
    ledger, due = uow.ledger.load(tenant), 0
    for portfolio in closed:
        agreement = uow.agreements.get(portfolio.agreement_id)
        items = amounts_due(portfolio, ledger, agreement.remittance)
        due += len(items)
        events = settle_after_sale(portfolio, ledger, agreement.remittance, on, items)
        if not events:
            continue
        for event in events:
            uow.events.publish(event)
        uow.portfolios.save(portfolio)
    return due


def record_remittance(uow: UnitOfWork, command: RecordRemittance) -> Outcome:
    """Record a payment to the buyer (never more than is outstanding) and its entry."""
    with uow:
        if not uow.inbox.claim(COMMANDS_CONSUMER, command.command_id):
            return Outcome.DUPLICATE
        portfolio = load_portfolio(uow, command.portfolio_id)
        agreement = uow.agreements.get(portfolio.agreement_id)
        items = amounts_due(portfolio, uow.ledger.load(portfolio.tenant), agreement.remittance)
        statement = AmountsDueReport.of(portfolio, items, command.paid_on)
        remittance = Remittance(command.remittance_id, command.paid_on, command.amount)
        known = command.remittance_id in portfolio.remittances
        portfolio.record_remittance(remittance, statement.outstanding)
        entries = [] if known else [remittance_entry(portfolio, remittance).as_event(portfolio.id)]
        save_portfolio(uow, portfolio, entries)
    return Outcome.APPLIED
