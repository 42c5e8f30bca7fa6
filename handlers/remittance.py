"""Money for the buyer: amounts due when a sold receivable is paid, and remittances of it."""

from __future__ import annotations

from datetime import date

from debtsale.commands import RecordRemittance
from debtsale.journal import remittance_entry
from debtsale.ledger import Ledger
from debtsale.portfolio import Portfolio, Remittance
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport
from debtsale.settlement import settle_after_sale
from handlers.outcome import Outcome, load_portfolio, once, save_portfolio
from handlers.ports import UnitOfWork

__all__ = ["record_remittance", "settle_dues"]


def settle_dues(uow: UnitOfWork, portfolio: Portfolio, ledger: Ledger, on: date) -> bool:
    """Announce (or withdraw) what the seller owes the buyer of a closed portfolio, now.

    Amounts due and paid-before-sale candidates are derived from the facts
    (``debtsale.settlement``, order-independent) against what the portfolio announced, so
    a voided, deleted or changed payment is withdrawn with a reversing entry dated ``on``,
    and each announcement and withdrawal has an id of its own. Runs in the unit of work of
    whatever changed the facts or the portfolio (a payment, the close, a put-back
    decision), so what was announced always equals what is due at every commit.
    ``ledger`` must be read after ``portfolio``. True when the portfolio changed (the
    caller saves it).
    """
    if portfolio.closing is None:
        return False
    agreement = uow.agreements.get(portfolio.agreement_id)
    events = settle_after_sale(portfolio, ledger, agreement.remittance, on)
    for event in events:
        uow.events.publish(event)
    return bool(events)


@once
def record_remittance(uow: UnitOfWork, command: RecordRemittance) -> Outcome:
    """Record a payment to the buyer (never more than is outstanding) and its entry."""
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
