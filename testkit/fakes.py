"""In-memory fakes of the ports, for handler tests here and in other packages."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self

from debtsale.agreement import Agreement
from debtsale.changes import LedgerChange
from debtsale.errors import RuleViolation
from debtsale.events import DomainEvent
from debtsale.ledger import Ledger
from debtsale.lifecycle import ExclusionReason
from debtsale.portfolio import Portfolio
from debtsale.salefile import SaleFileSummary, SoldRow
from handlers.ports import ConflictError, Recorded, UnitOfWork

__all__ = [
    "FakeAgreementStore",
    "FakeEventOutbox",
    "FakeFlagStore",
    "FakeInbox",
    "FakeLedgerStore",
    "FakePortfolioStore",
    "FakeSaleFileStore",
    "FakeUnitOfWork",
]


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

    def claim_many(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {key for key in keys if self.claim(*key)}


class FakeLedgerStore:
    """A domain ledger per tenant."""

    def __init__(self) -> None:
        self.ledgers: dict[str, Ledger] = {}

    def record(self, tenant: str, change: LedgerChange) -> Recorded:
        ledger = self.load(tenant)
        touched = ledger.touched_by(change)
        return Recorded(True, touched) if ledger.apply(change) else Recorded(False)

    def load(self, tenant: str) -> Ledger:
        return self.ledgers.setdefault(tenant, Ledger(tenant))


class FakeAgreementStore:
    """Agreements by id."""

    def __init__(self, *agreements: Agreement) -> None:
        self.agreements = {a.id: a for a in agreements}

    def get(self, agreement_id: str) -> Agreement:
        if agreement_id not in self.agreements:
            raise RuleViolation("agreement.known", f"no agreement {agreement_id}")
        return self.agreements[agreement_id]

    def list(self) -> list[Agreement]:
        return [self.agreements[key] for key in sorted(self.agreements)]


class FakePortfolioStore:
    """Portfolios by id, with versions and claims as the database keeps them.

    A save over a version that is no longer the stored one, or a claim on a receivable
    another portfolio holds, raises ConflictError, as the SQL store does.
    """

    def __init__(self) -> None:
        self.portfolios: dict[str, Portfolio] = {}

    def get(self, portfolio_id: str) -> Portfolio | None:
        return copy.deepcopy(self.portfolios.get(portfolio_id))

    def _check_claims(self, portfolio: Portfolio) -> None:
        for other in self.portfolios.values():
            if other.id != portfolio.id and other.tenant == portfolio.tenant:
                taken = other.held() & portfolio.held()
                if taken:
                    raise ConflictError(f"{sorted(taken)} held by portfolio {other.id}")

    def add(self, portfolio: Portfolio) -> None:
        if portfolio.id in self.portfolios:
            raise RuleViolation("portfolio.unique", f"portfolio {portfolio.id} already exists")
        self._check_claims(portfolio)
        portfolio.version = 1
        self.portfolios[portfolio.id] = copy.deepcopy(portfolio)

    def _bump(self, portfolio: Portfolio) -> None:
        held = self.portfolios.get(portfolio.id)
        if held is None or held.version != portfolio.version:
            raise ConflictError(f"portfolio {portfolio.id} changed since it was read")
        portfolio.version += 1

    def save(self, portfolio: Portfolio) -> None:
        self._check_claims(portfolio)
        self._bump(portfolio)
        self.portfolios[portfolio.id] = copy.deepcopy(portfolio)

    def touch(self, portfolio: Portfolio) -> None:
        self._bump(portfolio)
        self.portfolios[portfolio.id].version = portfolio.version

    def bump(self, portfolio_ids: Iterable[str]) -> None:
        for portfolio_id in set(portfolio_ids):
            self.portfolios[portfolio_id].version += 1

    def live(self, portfolio_ids: Iterable[str]) -> list[str]:
        return sorted(
            i for i in set(portfolio_ids) if i in self.portfolios and self.portfolios[i].live
        )

    def unavailable(self, tenant: str) -> set[str]:
        return {rid for p in self.portfolios.values() if p.tenant == tenant for rid in p.held()}

    def has_portfolios(self, tenant: str) -> bool:
        return any(p.tenant == tenant for p in self.portfolios.values())

    def holding(self, tenant: str, receivable_ids: Iterable[str]) -> list[str]:
        wanted = set(receivable_ids)
        return sorted(
            p.id for p in self.portfolios.values() if p.tenant == tenant and wanted & set(p.lines)
        )

    def list(self, tenant: str | None = None) -> list[Portfolio]:
        return [
            copy.deepcopy(p)
            for _, p in sorted(self.portfolios.items())
            if tenant is None or p.tenant == tenant
        ]


class FakeFlagStore:
    """Exclusion facts: ``(tenant, receivable, reason)`` → since."""

    def __init__(self) -> None:
        self.flags: dict[tuple[str, str, ExclusionReason], date] = {}

    def flag(self, tenant: str, receivable_id: str, reason: ExclusionReason, since: date) -> None:
        key = (tenant, receivable_id, reason)
        self.flags[key] = min(since, self.flags.get(key, since))

    def on(self, tenant: str, day: date) -> Mapping[str, set[ExclusionReason]]:
        found: dict[str, set[ExclusionReason]] = {}
        for (owner, receivable_id, reason), since in self.flags.items():
            if owner == tenant and since <= day:
                found.setdefault(receivable_id, set()).add(reason)
        return found


class FakeSaleFileStore:
    """Sale files by portfolio id: the summary and the rows as recorded."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[SaleFileSummary, list[SoldRow]]] = {}

    def record(self, summary: SaleFileSummary, rows: Iterable[SoldRow]) -> None:
        if summary.portfolio_id in self.files:
            raise RuleViolation(
                "salefile.unique", f"portfolio {summary.portfolio_id} has a sale file already"
            )
        self.files[summary.portfolio_id] = (summary, list(rows))

    def summary(self, portfolio_id: str) -> SaleFileSummary | None:
        held = self.files.get(portfolio_id)
        return held[0] if held else None

    def rows(self, portfolio_id: str) -> list[SoldRow]:
        """The rows recorded for a portfolio (empty when none)."""
        held = self.files.get(portfolio_id)
        return list(held[1]) if held else []


class FakeEventOutbox:
    """The events published, in order."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        if all(e.event_id != event.event_id for e in self.events):
            self.events.append(event)


class FakeUnitOfWork:
    """A unit of work over the fakes: leaving without ``commit()`` restores what was."""

    def __init__(self) -> None:
        self.inbox = FakeInbox()
        self.ledger = FakeLedgerStore()
        self.agreements = FakeAgreementStore()
        self.portfolios = FakePortfolioStore()
        self.flags = FakeFlagStore()
        self.sale_files = FakeSaleFileStore()
        self.events = FakeEventOutbox()
        self.commits = 0
        self._saved: tuple[Any, ...] | None = None

    def _snapshot(self) -> tuple[Any, ...]:
        return (
            set(self.inbox.seen),
            copy.deepcopy(self.ledger.ledgers),
            copy.deepcopy(self.portfolios.portfolios),
            dict(self.flags.flags),
            dict(self.sale_files.files),
            list(self.events.events),
        )

    def __enter__(self) -> Self:
        self._saved = self._snapshot()
        return self

    def commit(self) -> None:
        self._saved = self._snapshot()
        self.commits += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            (
                self.inbox.seen,
                self.ledger.ledgers,
                self.portfolios.portfolios,
                self.flags.flags,
                self.sale_files.files,
                self.events.events,
            ) = self._saved
            self._saved = None


def _conforms() -> None:  # pragma: no cover - checked by mypy, never run
    """mypy proves the fakes (and nothing else) satisfy the ports they stand in for."""
    _: UnitOfWork = FakeUnitOfWork()
