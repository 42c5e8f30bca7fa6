"""Applying ledger changes: once per event id, newest version wins, all in one commit."""

from __future__ import annotations

from debtsale.changes import LedgerChange, PaymentDeleted, PaymentRecorded, PaymentVoided
from handlers.outcome import Outcome
from handlers.ports import UnitOfWork
from handlers.remittance import owe_buyer

__all__ = ["LEDGER_CONSUMER", "Outcome", "apply_ledger_change", "ledger_consumer"]

LEDGER_CONSUMER = "ledger"

_PAYMENTS = (PaymentRecorded, PaymentVoided, PaymentDeleted)
"""Changes that can move money on a sold receivable, so may owe the buyer."""


def ledger_consumer(tenant: str) -> str:
    """The inbox's consumer name: event ids are only ever compared within one tenant."""
    return f"{LEDGER_CONSUMER}/{tenant}"


def apply_ledger_change(uow: UnitOfWork, tenant: str, change: LedgerChange) -> Outcome:
    """Record ``change`` for ``tenant`` unless its event id was seen; commit inbox and fact.

    A payment that lands on a sold receivable also announces the amount due to the buyer
    (and its journal entry) in the same commit.
    """
    with uow:
        if not uow.inbox.claim(ledger_consumer(tenant), change.event_id):
            return Outcome.DUPLICATE
        applied = uow.ledger.record(tenant, change)
        if applied and isinstance(change, _PAYMENTS):
            owe_buyer(uow, tenant, change.version.updated.date())
        uow.commit()
    return Outcome.APPLIED if applied else Outcome.STALE
