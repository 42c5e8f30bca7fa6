"""Applying ledger changes: once per event id, newest version wins, all in one commit."""

from __future__ import annotations

from datetime import date

from debtsale.changes import LedgerChange
from debtsale.remittance import MOVES_DUES
from handlers.outcome import Outcome
from handlers.ports import UnitOfWork
from handlers.remittance import settle_dues

__all__ = ["LEDGER_CONSUMER", "Outcome", "apply_ledger_change", "ledger_consumer"]

LEDGER_CONSUMER = "ledger"


def ledger_consumer(tenant: str) -> str:
    """The inbox's consumer name: event ids are only ever compared within one tenant."""
    return f"{LEDGER_CONSUMER}/{tenant}"


def apply_ledger_change(uow: UnitOfWork, tenant: str, change: LedgerChange) -> Outcome:
    """Record ``change`` for ``tenant`` unless its event id was seen; commit inbox and fact.

    A change on a receivable that a portfolio holds (or held) moves that portfolio on in
    the same commit: a sold one announces or withdraws what is owed to its buyer, a live
    one is only touched, so a close racing this change conflicts and runs again with it.
    """
    with uow:
        if not uow.inbox.claim(ledger_consumer(tenant), change.event_id):
            return Outcome.DUPLICATE
        recorded = uow.ledger.record(tenant, change)
        if recorded.touched and uow.portfolios.has_portfolios(tenant):
            holders = uow.portfolios.holding(tenant, recorded.touched)
            if holders and isinstance(change, MOVES_DUES):
                _follow(uow, tenant, holders, change.version.updated.date())
            elif holders:  # nothing owed can change: a concurrent save only must conflict
                uow.portfolios.bump(holders)
        uow.commit()
    return Outcome.APPLIED if recorded else Outcome.STALE


def _follow(uow: UnitOfWork, tenant: str, holders: list[str], on: date) -> None:
    """Bring the portfolios holding what changed up to date (read before the ledger is)."""
    live = uow.portfolios.live(holders)
    uow.portfolios.bump(live)  # a live sale needs no ledger here: a racing close runs again
    portfolios = [p for p in map(uow.portfolios.get, sorted(set(holders) - set(live))) if p]
    if not portfolios:
        return
    ledger = uow.ledger.load(tenant)
    for portfolio in portfolios:
        if settle_dues(uow, portfolio, ledger, on):
            uow.portfolios.save(portfolio)
        else:
            uow.portfolios.touch(portfolio)
