"""The composition root: builds forwardflow's parts from settings, nothing at import time."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from forwardflow.broker.topology import Topology
from forwardflow.settings import Settings, load_settings
from forwardflow.store import SqlUnitOfWork, make_engine

__all__ = ["Forwardflow", "bootstrap"]


@dataclass
class Forwardflow:
    """The composed application: settings, store and broker topology, ready to use."""

    settings: Settings
    engine: Engine
    topology: Topology = field(default_factory=Topology)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work on the state store."""
        return SqlUnitOfWork(self.engine)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def bootstrap(settings: Settings | None = None) -> Forwardflow:
    """Compose forwardflow; with no settings given, load the effective ones."""
    settings = settings or load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url, echo=settings.database.echo)
    topology = Topology(settings.broker.stream_prefix, settings.broker.partitions)
    return Forwardflow(settings=settings, engine=engine, topology=topology)
