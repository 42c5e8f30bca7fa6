"""Hot statements compiled once per dialect and run as driver SQL, skipping per-call overhead.

The statements are still written with SQLAlchemy (so each dialect gets its own correct
SQL); only their execution bypasses SQLAlchemy's per-call compile-cache and result
machinery, which costs more than the statement itself on SQLite (see bench/pipeline.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["DriverStatement", "driver_statement"]


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A compiled statement's SQL and, for positional drivers, its parameter order."""

    sql: str
    order: tuple[str, ...] | None

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Execute with ``params`` and return the first row (or None)."""
        cursor = _dbapi(connection).cursor()
        try:
            cursor.execute(self.sql, self._args(params))
            return cursor.fetchone() if cursor.description else None
        finally:
            cursor.close()

    def batches(
        self, connection: Connection, params: Mapping[str, Any], size: int
    ) -> Iterator[list[Any]]:
        """Execute and yield the result ``size`` rows at a time, never all of it at once.

        PostgreSQL reads through a server-side (named) cursor; SQLite steps its cursor.
        """
        dbapi = _dbapi(connection)
        named = connection.dialect.name == "postgresql"
        cursor = dbapi.cursor(name=f"ff_batches_{id(self)}") if named else dbapi.cursor()
        try:
            cursor.execute(self.sql, self._args(params))
            while batch := cursor.fetchmany(size):
                yield batch
        finally:
            cursor.close()

    def _args(self, params: Mapping[str, Any]) -> Any:
        return tuple(params[name] for name in self.order) if self.order else dict(params)


def _dbapi(connection: Connection) -> Any:
    """The DBAPI connection inside the transaction SQLAlchemy began (begun here if need be).

    So the dialect's BEGIN (IMMEDIATE on SQLite, unless the connection reads only) is the
    one used, and ``commit()``/``rollback()`` on the connection cover these statements.
    """
    if not connection.in_transaction():
        connection.begin()
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    return dbapi


_CACHE: dict[tuple[str, str], DriverStatement] = {}


def driver_statement(
    name: str, connection: Connection, build: Callable[[str], ClauseElement]
) -> DriverStatement:
    """The statement ``name`` for the connection's dialect, compiled on first use."""
    key = (name, connection.dialect.name)
    found = _CACHE.get(key)
    if found is None:
        compiled = build(connection.dialect.name).compile(dialect=connection.dialect)
        assert isinstance(compiled, SQLCompiler)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        found = _CACHE[key] = DriverStatement(str(compiled), order)
    return found
