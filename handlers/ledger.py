"""Applying ledger changes: once per event id, newest version wins, all in one commit."""

from __future__ import annotations

from enum import StrEnum

from debtsale.changes import LedgerChange
from handlers.ports import UnitOfWork

__all__ = ["LEDGER_CONSUMER", "Outcome", "apply_ledger_change", "ledger_consumer"]

LEDGER_CONSUMER = "ledger"


class Outcome(StrEnum):
    """What handling a message did, for logs and metrics."""

    APPLIED = "applied"
    STALE = "stale"  # an older version than the one held: ignored
    DUPLICATE = "duplicate"  # this event id was applied before: a redelivery


def ledger_consumer(tenant: str) -> str:
    """The inbox's consumer name: event ids are only ever compared within one tenant."""
    return f"{LEDGER_CONSUMER}/{tenant}"


def apply_ledger_change(uow: UnitOfWork, tenant: str, change: LedgerChange) -> Outcome:
    """Record ``change`` for ``tenant`` unless its event id was seen; commit inbox and fact."""
    with uow:
        if not uow.inbox.claim(ledger_consumer(tenant), change.event_id):
            return Outcome.DUPLICATE
        applied = uow.ledger.record(tenant, change)
        uow.commit()
    return Outcome.APPLIED if applied else Outcome.STALE
