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

from connectors.platform import Platform
from debtsale.errors import DomainError
from forwardflow.broker.bus import Bus
from forwardflow.broker.topology import Topology
from forwardflow.documents import PlatformDocuments
from forwardflow.platforms import PLATFORMS
from forwardflow.secrets import SecretBox, secret_box
from forwardflow.settings import Settings, load_settings
from forwardflow.store import SqlUnitOfWork, make_engine
from forwardflow.wired import WiredPlatform
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
    platforms: dict[str, Platform] = field(default_factory=dict)
    documents: DocumentSource | None = None
    """Where sold receivables' documents (invoice PDFs) come from: the platform's."""
    _db_threads: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def secret_box(self) -> SecretBox:
        """The installation's box for secrets at rest (tokens, keys)."""
        return secret_box(self.settings)

    def platform(self, name: str, bus: Bus | None = None) -> WiredPlatform:
        """A registered platform wired in (publishing through ``bus`` when given)."""
        found = self.platforms.get(name)
        if found is None:
            known = ", ".join(sorted(self.platforms)) or "none"
            raise DomainError("platform.known", f"no platform {name!r} (known: {known})")
        return WiredPlatform(found, self, bus)

    def wired(self, bus: Bus | None = None) -> list[WiredPlatform]:
        """Every registered platform wired in, in registry order."""
        return [WiredPlatform(p, self, bus) for p in self.platforms.values()]

    def platform_of(self, tenant: str, bus: Bus | None = None) -> tuple[WiredPlatform, str] | None:
        """The platform and company behind a ledger tenant, if a platform's."""
        for platform in self.platforms.values():
            company = platform.company_of(tenant)
            if company is not None:
                return WiredPlatform(platform, self, bus), company
        return None

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
    platforms = {cls.name: cls() for cls in PLATFORMS}
    app = Forwardflow(settings=settings, engine=engine, topology=topology, platforms=platforms)
    app.documents = PlatformDocuments(app)  # invoice PDFs from each tenant's platform
    return app


def _conforms(engine: Engine) -> None:  # pragma: no cover - checked by mypy, never run
    """mypy proves the store's unit of work satisfies the handlers' port."""
    _: UnitOfWork = SqlUnitOfWork(engine)
