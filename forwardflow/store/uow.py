"""The unit of work: domain state, inbox and outbox commit together or not at all."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from debtsale.codec import encode_event
from debtsale.events import DomainEvent
from forwardflow.store.deliveries import SqlDeliveryStore
from forwardflow.store.driver import driver_statement
from forwardflow.store.flags import SqlFlagStore
from forwardflow.store.ledger import SqlLedgerStore
from forwardflow.store.platforms import (
    SqlCheckpoints,
    SqlCompanies,
    SqlConnectLinks,
    SqlPaymentLinks,
    SqlPostings,
)
from forwardflow.store.portfolios import SqlAgreementStore, SqlPortfolioStore
from forwardflow.store.salefiles import SqlSaleFileStore
from forwardflow.store.tables import inbox, outbox
from handlers.ports import ConflictError

__all__ = ["EventOutbox", "Inbox", "Outbox", "OutboxMessage", "SqlUnitOfWork", "conflict_of"]

_RETRYABLE_SQLSTATES = {
    "40001": "serialization failure",
    "40P01": "deadlock detected",
    "23505": "unique key taken by a concurrent transaction",
}
"""PostgreSQL errors that mean another writer got there first: the unit may run again."""


def conflict_of(error: BaseException) -> ConflictError | None:
    """The ConflictError a database error stands for, or None if it is not a race."""
    if not isinstance(error, DBAPIError):
        return None
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return ConflictError(f"{_RETRYABLE_SQLSTATES[sqlstate]} ({sqlstate})")
    return None


_CLAIMS: dict[str, Any] = {}


def _claim(dialect_name: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING`` for one dialect, built once.

    RETURNING yields a row only when the insert happened: no reliance on rowcount, which
    drivers report differently for this statement.
    """
    statement = _CLAIMS.get(dialect_name)
    if statement is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        statement = _CLAIMS[dialect_name] = (
            dialect.insert(inbox)
            .values(consumer=bindparam("consumer"), event_id=bindparam("event_id"))
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
    return statement


class Inbox:
    """Remembers which events each consumer has applied."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def claim(self, consumer: str, event_id: str) -> bool:
        """Record the event as applied; False when it already was (a redelivery)."""
        statement = driver_statement("inbox.claim", self._connection, _claim)
        values = {"consumer": consumer, "event_id": event_id}
        return statement.first(self._connection, values) is not None

    def claim_many(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Record every (consumer, event id) as applied in one statement; those that were
        not yet (a batch's claims: one round trip, not one per event)."""
        if not keys:
            return set()
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(inbox)
            .values([{"consumer": c, "event_id": e} for c, e in dict.fromkeys(keys)])
            .on_conflict_do_nothing()
            .returning(inbox.c.consumer, inbox.c.event_id)
        )
        return {(row.consumer, row.event_id) for row in self._connection.execute(statement)}

    def seen(self, consumer: str, event_id: str) -> bool:
        """True when the consumer has applied the event."""
        row = self._connection.execute(
            select(inbox.c.event_id).where(
                inbox.c.consumer == consumer, inbox.c.event_id == event_id
            )
        ).first()
        return row is not None


class OutboxMessage:
    """One unpublished event as the relay reads it."""

    __slots__ = ("event_id", "headers", "id", "payload", "subject")

    def __init__(
        self, id: int, event_id: str, subject: str, headers: dict[str, str], payload: bytes
    ) -> None:
        self.id = id
        self.event_id = event_id
        self.subject = subject
        self.headers = headers
        self.payload = payload


class Outbox:
    """Events a transaction emits, stored beside the state that caused them."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self,
        *,
        event_id: str,
        subject: str,
        payload: bytes | Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Queue an event; an event id already queued is the same fact and is skipped.

        ``payload`` is bytes or a JSON-able mapping.
        """
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        self._connection.execute(
            dialect.insert(outbox)
            .values(
                event_id=event_id,
                subject=subject,
                headers=dict(headers or {}),
                payload=body,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )

    def pending(self, limit: int = 500) -> list[OutboxMessage]:
        """Unpublished events, oldest first."""
        rows = self._connection.execute(
            select(
                outbox.c.id, outbox.c.event_id, outbox.c.subject, outbox.c.headers, outbox.c.payload
            )
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [
            OutboxMessage(r.id, r.event_id, r.subject, dict(r.headers), r.payload) for r in rows
        ]

    def mark_published(self, ids: list[int]) -> None:
        """Record that these events reached the broker."""
        if ids:
            self._connection.execute(
                update(outbox).where(outbox.c.id.in_(ids)).values(published_at=datetime.now(UTC))
            )


class EventOutbox:
    """Domain events into the outbox, each on its subject, with its deterministic id."""

    def __init__(self, outbox: Outbox, subject_for: Callable[[str], str]) -> None:
        self._outbox = outbox
        self._subject_for = subject_for

    def publish(self, event: DomainEvent) -> None:
        """Queue ``event`` for the relay."""
        name = type(event).__name__
        self._outbox.add(
            event_id=event.event_id,
            subject=self._subject_for(name),
            payload=encode_event(event),
            headers={"ff-type": name},
        )


def _default_subject(name: str) -> str:
    return f"ff.event.{name}"


class SqlUnitOfWork:
    """A database transaction with the inbox and outbox bound to it.

    Use as ``with uow: ...; uow.commit()``. Leaving the block without ``commit()`` —
    including by an exception — rolls back everything since the last commit. The
    transaction begins with the first statement (SQLAlchemy's autobegin).
    """

    def __init__(
        self, engine: Engine, event_subject: Callable[[str], str] = _default_subject
    ) -> None:
        self._engine = engine
        self._event_subject = event_subject
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        """The open connection, for repositories."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open; use it in a with block")
        return self._connection

    def __enter__(self) -> Self:
        self._connection = self._engine.connect()
        self.inbox = Inbox(self._connection)
        self.outbox = Outbox(self._connection)
        self.ledger = SqlLedgerStore(self._connection)
        self.agreements = SqlAgreementStore(self._connection)
        self.portfolios = SqlPortfolioStore(self._connection)
        self.flags = SqlFlagStore(self._connection)
        self.deliveries = SqlDeliveryStore(self._connection)
        self.sale_files = SqlSaleFileStore(self._connection)
        self.companies = SqlCompanies(self._connection)
        self.checkpoints = SqlCheckpoints(self._connection)
        self.payment_links = SqlPaymentLinks(self._connection)
        self.postings = SqlPostings(self._connection)
        self.connect_links = SqlConnectLinks(self._connection)
        self.events = EventOutbox(self.outbox, self._event_subject)
        return self

    def commit(self) -> None:
        """Make everything done in this unit so far durable at once."""
        self.connection.commit()

    def rollback(self) -> None:
        """Discard everything since the last commit."""
        if self._connection is not None and self._connection.in_transaction():
            self._connection.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        conflict = conflict_of(exc) if exc is not None else None
        if conflict is not None:  # a race, not a fault: the handlers' retry runs the unit again
            raise conflict from exc
