"""Partition leases: one process at a time applies a ledger partition's batches.

Several handler processes share a partition's durable consumer. With one message in
flight per partition the broker alone kept the order; with batches it cannot (a second
process would fetch newer messages while the first still holds older ones). So a
process applies a partition only while it holds that partition's lease, held by the
database it writes to:

- PostgreSQL: a session advisory lock on one connection the process keeps for its
  leases; the server frees it the moment that connection ends (process killed, network
  gone), so a survivor takes over at its next try;
- SQLite (one machine): an exclusive ``flock`` on a file beside the database, freed by
  the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

__all__ = ["PartitionLeases", "partition_leases"]

log = logging.getLogger("forwardflow.store")


def _key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` (stable across processes)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


_PROCESS: dict[str, PartitionLeases] = {}
_PROCESS_LOCK = threading.Lock()


def partition_leases(engine: Engine, folder: Path) -> PartitionLeases:
    """This process's leases on ``engine``'s database: one holder per process, since a
    lease belongs to the process (a second holder in it would wait on the first)."""
    place = str(engine.url) if engine.dialect.name == "postgresql" else str(folder.resolve())
    with _PROCESS_LOCK:
        if place not in _PROCESS:
            _PROCESS[place] = PartitionLeases(engine, folder)
        return _PROCESS[place]


class PartitionLeases:
    """The leases this process holds, by name (a ledger partition's consumer)."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self._engine = engine
        self._folder = folder
        self._postgres = engine.dialect.name == "postgresql"
        self._connection: Connection | None = None
        self._files: dict[str, IO[bytes]] = {}
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def hold(self, name: str) -> bool:
        """True when this process holds ``name``'s lease (taking it if it is free)."""
        with self._lock:
            try:
                return self._hold_postgres(name) if self._postgres else self._hold_file(name)
            except (DBAPIError, OSError) as error:  # the lease's connection is gone
                log.warning("lease %s lost: %s", name, type(error).__name__)
                self._forget_connection()
                return False

    def _hold_postgres(self, name: str) -> bool:
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
            self._held.clear()
        if name in self._held:  # still ours while the connection lives: ask it
            self._connection.execute(text("select 1"))
            return True
        taken = self._connection.execute(
            text("select pg_try_advisory_lock(:key)"), {"key": _key(name)}
        ).scalar_one()
        if taken:
            self._held.add(name)
            log.info("lease %s taken", name)
        return bool(taken)

    def _hold_file(self, name: str) -> bool:
        if name in self._files:
            return True
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._folder / f"{name.replace('/', '-')}.lease"
        handle = path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        path.chmod(0o600)
        self._files[name] = handle
        log.info("lease %s taken", name)
        return True

    def _forget_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):  # already broken: nothing to give back
                self._connection.close()
            self._connection = None
        self._held.clear()
