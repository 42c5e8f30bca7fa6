"""Ledger facts in the database: one row per entity, the newest version's change kept whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from debtsale.changes import LedgerChange, Version
from debtsale.codec import decode, encode
from debtsale.ledger import Ledger, entity_of, invoices_named
from forwardflow.store.driver import driver_statement
from forwardflow.store.tables import ledger_entities
from handlers.ports import Recorded

__all__ = ["SqlLedgerStore", "version_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def version_micros(version: Version) -> int:
    """The version's time as microseconds since 1970 UTC: comparable in any database."""
    return (version.updated - _EPOCH) // timedelta(microseconds=1)


_COLUMNS = (
    "tenant",
    "kind",
    "entity_id",
    "version_micros",
    "version_sequence",
    "event_id",
    "message",
    "invoices",
    "prior_invoices",  # "[]" for a new entity; the replaced version's list on an update
)
_UPSERTS: dict[str, Any] = {}


def _upsert(dialect_name: str) -> Any:
    """The conditional upsert for one dialect, built once and reused with bound values.

    Building a SQLAlchemy statement costs far more than running it on SQLite, so each
    dialect's statement is made on first use and executed with plain parameters after.
    """
    statement = _UPSERTS.get(dialect_name)
    if statement is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        insert: Any = dialect.insert(ledger_entities).values(
            {name: bindparam(name) for name in _COLUMNS}
        )
        held = ledger_entities.c
        newer = or_(
            insert.excluded.version_micros > held.version_micros,
            and_(
                insert.excluded.version_micros == held.version_micros,
                insert.excluded.version_sequence > held.version_sequence,
            ),
        )
        # SET reads the row as it was: prior_invoices gets what the replaced version named,
        # after any concurrent writer of this entity committed (the upsert waits for it)
        statement = _UPSERTS[dialect_name] = insert.on_conflict_do_update(
            index_elements=[held.tenant, held.kind, held.entity_id],
            set_={
                **{
                    name: insert.excluded[name]
                    for name in ("version_micros", "version_sequence", "event_id", "message")
                },
                "invoices": insert.excluded.invoices,
                "prior_invoices": held.invoices,
            },
            where=newer,
        ).returning(held.invoices, held.prior_invoices)
    return statement


class SqlLedgerStore:
    """Implements the handlers' LedgerStore with one conditional upsert per change."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(self, tenant: str, change: LedgerChange) -> Recorded:
        """Keep ``change`` if newer than the held version (time, then sequence).

        Also says which invoices the change touched: those it names and those the version
        it replaced named (a payment voided or re-linked no longer names what it paid).
        """
        kind, entity_id = entity_of(change)
        values = {
            "tenant": tenant,
            "kind": kind.value,
            "entity_id": entity_id,
            "version_micros": version_micros(change.version),
            "version_sequence": change.version.sequence,
            "event_id": change.event_id,
            "message": json.dumps(encode(change), separators=(",", ":")),
            "invoices": json.dumps(sorted(invoices_named(change))),
            "prior_invoices": "[]",
        }
        statement = driver_statement("ledger.upsert", self._connection, _upsert)
        row = statement.first(self._connection, values)
        if row is None:
            return Recorded(applied=False)
        invoices, prior = row
        return Recorded(applied=True, touched=frozenset(json.loads(invoices) + json.loads(prior)))

    def load(self, tenant: str) -> Ledger:
        """Replay the held (winning) change of every entity into a domain ledger."""
        ledger = Ledger(tenant)
        rows = self._connection.execute(
            select(ledger_entities.c.message).where(ledger_entities.c.tenant == tenant)
        )
        for (message,) in rows:
            ledger.apply(decode(message))
        return ledger
