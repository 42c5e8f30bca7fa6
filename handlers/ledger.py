"""Applying ledger changes: once per event id, newest version wins, all in one commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from debtsale.changes import LedgerChange
from debtsale.remittance import MOVES_DUES
from handlers.outcome import Outcome
from handlers.ports import ConflictError, UnitOfWork
from handlers.remittance import settle_dues

__all__ = [
    "LEDGER_CONSUMER",
    "BatchItemError",
    "Outcome",
    "apply_ledger_change",
    "apply_ledger_changes",
    "ledger_consumer",
    "record_ledger_change",
]

LEDGER_CONSUMER = "ledger"


def ledger_consumer(tenant: str) -> str:
    """The inbox's consumer name: event ids are only ever compared within one tenant."""
    return f"{LEDGER_CONSUMER}/{tenant}"


class BatchItemError(Exception):
    """One change of a batch failed: which one, and why (the batch committed nothing)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"change {index} of the batch: {type(error).__name__}: {error}")
        self.index = index
        self.error = error


def apply_ledger_change(uow: UnitOfWork, tenant: str, change: LedgerChange) -> Outcome:
    """Record ``change`` for ``tenant`` unless its event id was seen; commit inbox and fact."""
    with uow:
        outcome = record_ledger_change(uow, tenant, change)
        if outcome is not Outcome.DUPLICATE:  # a redelivery changed nothing to commit
            uow.commit()
    return outcome


def apply_ledger_changes(
    uow: UnitOfWork, changes: Sequence[tuple[str, LedgerChange]]
) -> list[Outcome]:
    """Record each (tenant, change) in order, all in one commit (a partition's batch).

    The first change that fails (other than by a lost race, which runs the whole batch
    again) is named in a ``BatchItemError``; nothing of the batch is committed then.
    """
    outcomes = []
    with uow:
        keys = [(ledger_consumer(tenant), change.event_id) for tenant, change in changes]
        fresh = uow.inbox.claim_many(keys)
        for index, (tenant, change) in enumerate(changes):
            if keys[index] not in fresh:
                outcomes.append(Outcome.DUPLICATE)
                continue
            fresh.discard(keys[index])  # a second copy in the same batch is a duplicate
            try:
                outcomes.append(_record_claimed(uow, tenant, change))
            except ConflictError:
                raise
            except Exception as error:
                raise BatchItemError(index, error) from error
        uow.commit()
    return outcomes


def record_ledger_change(uow: UnitOfWork, tenant: str, change: LedgerChange) -> Outcome:
    """Record ``change`` in the open unit of work unless its event id was seen (no commit).

    A change on a receivable that a portfolio holds (or held) moves that portfolio on in
    the same transaction: a sold one announces or withdraws what is owed to its buyer, a
    live one is only touched, so a close racing this change conflicts and runs again.
    """
    if not uow.inbox.claim(ledger_consumer(tenant), change.event_id):
        return Outcome.DUPLICATE
    return _record_claimed(uow, tenant, change)


def _record_claimed(uow: UnitOfWork, tenant: str, change: LedgerChange) -> Outcome:
    """Record a change whose event id this unit of work has just claimed."""
    recorded = uow.ledger.record(tenant, change)
    if recorded.touched and uow.portfolios.has_portfolios(tenant):
        holders = uow.portfolios.holding(tenant, recorded.touched)
        if holders and isinstance(change, MOVES_DUES):
            _follow(uow, tenant, holders, change.version.updated.date())
        elif holders:  # nothing owed can change: a concurrent save only must conflict
            uow.portfolios.bump(holders)
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
