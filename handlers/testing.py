"""In-memory fakes of the ports, for handler tests here and in other packages."""

from __future__ import annotations

import copy
from types import TracebackType
from typing import Self

from debtsale.changes import LedgerChange
from debtsale.ledger import Ledger

__all__ = ["FakeInbox", "FakeLedgerStore", "FakeUnitOfWork"]


class FakeInbox:
    """The set of ``(consumer, event id)`` pairs claimed."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def claim(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class FakeLedgerStore:
    """A domain ledger per tenant."""

    def __init__(self) -> None:
        self.ledgers: dict[str, Ledger] = {}

    def record(self, tenant: str, change: LedgerChange) -> bool:
        return self.load(tenant).apply(change)

    def load(self, tenant: str) -> Ledger:
        return self.ledgers.setdefault(tenant, Ledger(tenant))


class FakeUnitOfWork:
    """A unit of work over the fakes: leaving without ``commit()`` restores what was."""

    def __init__(self) -> None:
        self.inbox = FakeInbox()
        self.ledger = FakeLedgerStore()
        self.commits = 0
        self._saved: tuple[set[tuple[str, str]], dict[str, Ledger]] | None = None

    def __enter__(self) -> Self:
        self._saved = (set(self.inbox.seen), copy.deepcopy(self.ledger.ledgers))
        return self

    def commit(self) -> None:
        self._saved = (set(self.inbox.seen), copy.deepcopy(self.ledger.ledgers))
        self.commits += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            self.inbox.seen, self.ledger.ledgers = self._saved
            self._saved = None
