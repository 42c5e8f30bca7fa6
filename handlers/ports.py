"""What handlers need from the world, as protocols; the wiring package implements them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from types import TracebackType
from typing import Protocol, Self

from debtsale.agreement import Agreement
from debtsale.changes import LedgerChange
from debtsale.events import DomainEvent
from debtsale.ledger import Ledger
from debtsale.lifecycle import ExclusionReason
from debtsale.portfolio import Portfolio
from debtsale.salefile import SaleFileSummary, SoldRow

__all__ = [
    "AgreementStore",
    "EventOutbox",
    "FlagStore",
    "Inbox",
    "LedgerStore",
    "PortfolioStore",
    "SaleFileStore",
    "UnitOfWork",
]


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


class AgreementStore(Protocol):
    """Sale agreements by id."""

    def get(self, agreement_id: str) -> Agreement:
        """The agreement; an unknown id raises RuleViolation."""
        ...

    def list(self) -> list[Agreement]:
        """Every agreement, by id."""
        ...


class PortfolioStore(Protocol):
    """Portfolios by id."""

    def get(self, portfolio_id: str) -> Portfolio | None:
        """The portfolio, or None."""
        ...

    def add(self, portfolio: Portfolio) -> None:
        """Store a new portfolio."""
        ...

    def save(self, portfolio: Portfolio) -> None:
        """Store a changed portfolio."""
        ...

    def unavailable(self, tenant: str) -> set[str]:
        """Receivables in a live sale or sold: a new sale may not take them."""
        ...

    def closed(self, tenant: str) -> list[Portfolio]:
        """The tenant's sold portfolios: money they receive may be the buyer's."""
        ...

    def list(self, tenant: str | None = None) -> list[Portfolio]:
        """Every portfolio (of one tenant), by id."""
        ...


class FlagStore(Protocol):
    """Exclusion facts (bankruptcy, dispute …) the firm recorded per receivable."""

    def flag(self, tenant: str, receivable_id: str, reason: ExclusionReason, since: date) -> None:
        """Record the fact; recording it again keeps the earliest date."""
        ...

    def on(self, tenant: str, day: date) -> Mapping[str, set[ExclusionReason]]:
        """The facts in force on ``day``, by receivable."""
        ...


class SaleFileStore(Protocol):
    """Each closed sale's file as sold: its summary and rows, written once at the close."""

    def record(self, summary: SaleFileSummary, rows: Iterable[SoldRow]) -> None:
        """Keep the summary and the rows (in file order) of a sale just closed."""
        ...

    def summary(self, portfolio_id: str) -> SaleFileSummary | None:
        """The recorded summary, or None (not closed, or closed before files were recorded)."""
        ...


class EventOutbox(Protocol):
    """Domain events written with the state that raised them, published after commit."""

    def publish(self, event: DomainEvent) -> None:
        """Queue the event for the relay; an event id already queued is the same fact: no-op."""
        ...


class UnitOfWork(Protocol):
    """One transaction: state, inbox and outbox commit together or not at all."""

    @property
    def inbox(self) -> Inbox:
        """Which events and commands were applied."""
        ...

    @property
    def ledger(self) -> LedgerStore:
        """The ledger's facts."""
        ...

    @property
    def agreements(self) -> AgreementStore:
        """Sale agreements."""
        ...

    @property
    def portfolios(self) -> PortfolioStore:
        """Portfolios."""
        ...

    @property
    def flags(self) -> FlagStore:
        """Exclusion facts per receivable."""
        ...

    @property
    def sale_files(self) -> SaleFileStore:
        """Sale files of closed portfolios."""
        ...

    @property
    def events(self) -> EventOutbox:
        """Where domain events go, in the same transaction."""
        ...

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
