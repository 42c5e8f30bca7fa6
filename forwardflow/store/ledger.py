"""Ledger facts in the database: one row per entity, the newest version's change kept whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from debtsale.changes import LedgerChange, Version
from debtsale.codec import decode, encode
from debtsale.ledger import Ledger, entity_of
from forwardflow.store.tables import ledger_entities

__all__ = ["SqlLedgerStore", "version_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def version_micros(version: Version) -> int:
    """The version's time as microseconds since 1970 UTC: comparable in any database."""
    return (version.updated - _EPOCH) // timedelta(microseconds=1)


class SqlLedgerStore:
    """Implements the handlers' LedgerStore with one conditional upsert per change."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(self, tenant: str, change: LedgerChange) -> bool:
        """Keep ``change`` if newer than the held version (time, then sequence)."""
        kind, entity_id = entity_of(change)
        values = {
            "tenant": tenant,
            "kind": kind.value,
            "entity_id": entity_id,
            "version_micros": version_micros(change.version),
            "version_sequence": change.version.sequence,
            "event_id": change.event_id,
            "message": encode(change),
        }
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        insert: Any = dialect.insert(ledger_entities).values(values)
        held = ledger_entities.c
        newer = or_(
            insert.excluded.version_micros > held.version_micros,
            and_(
                insert.excluded.version_micros == held.version_micros,
                insert.excluded.version_sequence > held.version_sequence,
            ),
        )
        statement = insert.on_conflict_do_update(
            index_elements=[held.tenant, held.kind, held.entity_id],
            set_={
                name: insert.excluded[name]
                for name in ("version_micros", "version_sequence", "event_id", "message")
            },
            where=newer,
        ).returning(held.entity_id)
        return self._connection.execute(statement).first() is not None

    def load(self, tenant: str) -> Ledger:
        """Replay the held (winning) change of every entity into a domain ledger."""
        ledger = Ledger(tenant)
        rows = self._connection.execute(
            select(ledger_entities.c.message).where(ledger_entities.c.tenant == tenant)
        )
        for (message,) in rows:
            ledger.apply(decode(message))
        return ledger
