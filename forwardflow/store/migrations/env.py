"""Alembic's entry point: runs migrations on the connection forwardflow hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from forwardflow.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations through `forwardflow db upgrade`, not the alembic CLI")
_run(_connection)
