"""What handlers need from the world, as protocols; the wiring package implements them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
    "ConflictError",
    "EventOutbox",
    "FlagStore",
    "Inbox",
    "LedgerStore",
    "PortfolioStore",
    "Recorded",
    "SaleFileStore",
    "UnitOfWork",
]


class ConflictError(Exception):
    """Another writer changed what this unit of work read (a portfolio's version, a claim).

    Nothing of the unit was committed; running the whole unit again, on fresh reads, is
    safe and is what the handlers' retry does (``handlers.retry``).
    """


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording a ledger change did: kept or not, and which invoices it touched.

    ``touched`` holds the invoices the change names and those the version it replaced
    named (a voided payment names none itself), read atomically with the replacement so
    a concurrent writer of the same entity cannot hide them. Truthy when kept.
    """

    applied: bool
    touched: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return self.applied


class Inbox(Protocol):
    """Which events a consumer has applied."""

    def claim(self, consumer: str, event_id: str) -> bool:
        """Record the event as applied; False if it already was."""
        ...

    def claim_many(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Record each (consumer, event id) as applied, in one go; those that were not yet."""
        ...


class LedgerStore(Protocol):
    """The ledger's facts per tenant, newest version wins."""

    def record(self, tenant: str, change: LedgerChange) -> Recorded:
        """Keep the change if it is newer than what is held (falsy if stale or a copy)."""
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
    """Portfolios by id; each saved only over the version it was read at.

    ``add`` claims every receivable the portfolio holds and ``save`` claims or releases
    what changed: a receivable another portfolio holds raises ConflictError, as does a
    save over a version that is no longer the stored one.
    """

    def get(self, portfolio_id: str) -> Portfolio | None:
        """The portfolio (with the version read), or None."""
        ...

    def add(self, portfolio: Portfolio) -> None:
        """Store a new portfolio and claim its receivables."""
        ...

    def save(self, portfolio: Portfolio) -> None:
        """Store a changed portfolio over the version it was read at."""
        ...

    def touch(self, portfolio: Portfolio) -> None:
        """Move the version on without changing anything: a concurrent save conflicts."""
        ...

    def bump(self, portfolio_ids: Iterable[str]) -> None:
        """Move these portfolios' versions on, unread: facts they depend on changed, so a
        writer that read them before must run again."""
        ...

    def live(self, portfolio_ids: Iterable[str]) -> list[str]:
        """Those of the ids that are cut and not yet closed."""
        ...

    def unavailable(self, tenant: str) -> set[str]:
        """Receivables in a live sale or sold: a new sale may not take them."""
        ...

    def has_portfolios(self, tenant: str) -> bool:
        """True when the tenant has any portfolio (cheap: asked for every ledger change)."""
        ...

    def holding(self, tenant: str, receivable_ids: Iterable[str]) -> list[str]:
        """Ids of the portfolios that have (or had) a line for any of the receivables."""
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
