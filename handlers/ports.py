"""What handlers need from the world, as protocols; the wiring package implements them."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from debtsale.changes import LedgerChange
from debtsale.ledger import Ledger

__all__ = ["Inbox", "LedgerStore", "UnitOfWork"]


class Inbox(Protocol):
    """Which events a consumer has applied."""

    def claim(self, consumer: str, event_id: str) -> bool:
        """Record the event as applied; False if it already was."""
        ...


class LedgerStore(Protocol):
    """The ledger's facts per tenant, newest version wins."""

    def record(self, tenant: str, change: LedgerChange) -> bool:
        """Keep the change if it is newer than what is held; False if stale or a copy."""
        ...

    def load(self, tenant: str) -> Ledger:
        """Every fact of the tenant as a domain ledger."""
        ...


class UnitOfWork(Protocol):
    """One transaction: state, inbox and outbox commit together or not at all."""

    inbox: Inbox
    ledger: LedgerStore

    def commit(self) -> None:
        """Make the work durable."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
