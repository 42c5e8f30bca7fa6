"""Money for the buyer: amounts due when a sold receivable is paid, and remittances of it."""

from __future__ import annotations

from debtsale.commands import RecordRemittance
from debtsale.events import AmountDueToBuyer
from debtsale.journal import payment_after_sale_entry, remittance_entry
from debtsale.portfolio import Remittance
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport
from handlers.outcome import COMMANDS_CONSUMER, Outcome, load_portfolio, save_portfolio
from handlers.ports import UnitOfWork

__all__ = ["owe_buyer", "record_remittance"]


def owe_buyer(uow: UnitOfWork, tenant: str) -> int:
    """Announce what the seller now owes buyers on the tenant's sold receivables.

    Runs inside the ledger handler's unit of work after a payment changed. Amounts due
    are derived from the facts (order-independent), and each is announced once: the
    event id is deterministic and the outbox keeps the first. Returns how many items
    are due in all.
    """
    closed = uow.portfolios.closed(tenant)
    if not closed:
        return 0
    ledger, due = uow.ledger.load(tenant), 0
    for portfolio in closed:
        agreement = uow.agreements.get(portfolio.agreement_id)
        for item in amounts_due(portfolio, ledger, agreement.remittance):
            due += 1
            uow.events.publish(
                AmountDueToBuyer(
                    portfolio_id=portfolio.id,
                    receivable_id=item.receivable_id,
                    source=item.source,
                    amount=item.amount,
                    received_on=item.received_on,
                    due_on=item.due_on,
                )
            )
            uow.events.publish(payment_after_sale_entry(portfolio, item).as_event(portfolio.id))
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
