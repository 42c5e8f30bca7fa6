"""The composition root: builds forwardflow's parts from settings, nothing at import time."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from forwardflow.broker.topology import Topology
from forwardflow.settings import Settings, load_settings
from forwardflow.store import SqlUnitOfWork, make_engine
from handlers.ports import UnitOfWork
from sftp.documents import DocumentSource

__all__ = ["Forwardflow", "bootstrap", "private_data_dir"]

T = TypeVar("T")


@dataclass
class Forwardflow:
    """The composed application: settings, store and broker topology, ready to use."""

    settings: Settings
    engine: Engine
    topology: Topology = field(default_factory=Topology)
    documents: DocumentSource | None = None
    """Where sold receivables' documents (invoice PDFs) come from: the platform's."""
    _db_threads: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work on the state store."""
        return SqlUnitOfWork(self.engine, self.topology.event_subject)

    async def run_db(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking database work for a handler.

        PostgreSQL work runs on a thread per ledger partition, so waiting on the network
        never blocks the event loop. SQLite work (local, sub-millisecond, one writer at a
        time anyway) runs inline: handing it to a thread costs more than the work, since
        the thread waits for the GIL while the loop is busy (measured in bench/).
        """
        if self.engine.dialect.name == "sqlite":
            return work(*args)
        if self._db_threads is None:
            self._db_threads = ThreadPoolExecutor(
                self.topology.partitions, thread_name_prefix="ff-db"
            )
        return await asyncio.get_running_loop().run_in_executor(self._db_threads, work, *args)

    def close(self) -> None:
        """Release database connections and the database threads."""
        if self._db_threads is not None:
            self._db_threads.shutdown(wait=True)
            self._db_threads = None
        self.engine.dispose()


def private_data_dir(path: Path) -> None:
    """Create the data directory 0700, or make an existing one of ours 0700.

    It holds the SQLite store (debtors' names, addresses, e-mails), the broker's
    storage, sealed keys and outgoing files: nobody else on the machine reads it. A
    directory owned by another user (a shared mount) is left as it is.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)


def bootstrap(settings: Settings | None = None) -> Forwardflow:
    """Compose forwardflow; with no settings given, load the effective ones."""
    settings = settings or load_settings()
    private_data_dir(settings.data_dir)
    engine = make_engine(settings.database_url, echo=settings.database.echo)
    topology = Topology.of(settings.broker)
    return Forwardflow(settings=settings, engine=engine, topology=topology)


def _conforms(engine: Engine) -> None:  # pragma: no cover - checked by mypy, never run
    """mypy proves the store's unit of work satisfies the handlers' port."""
    _: UnitOfWork = SqlUnitOfWork(engine)
