"""What is running and in what shape: the store's schema and the broker's streams."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.runtime import BrokerConnection
from forwardflow.config_view import mask_url
from forwardflow.store import current_revision, head_revision

__all__ = ["BrokerStatus", "StoreStatus", "broker_status", "store_status"]


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """The state store as forwardflow sees it."""

    url: str
    backend: str
    revision: str | None
    head: str | None
    journal_mode: str | None

    @property
    def up_to_date(self) -> bool:
        """True when every shipped migration is applied."""
        return self.revision == self.head


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """One JetStream stream's size."""

    name: str
    messages: int
    bytes: int


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """The broker as forwardflow sees it."""

    url: str
    embedded: bool
    pid: int | None
    server_version: str
    streams: tuple[StreamStatus, ...]


def store_status(app: Forwardflow) -> StoreStatus:
    """Inspect the store: backend, schema revision and (SQLite) journal mode."""
    backend = app.engine.dialect.name
    journal_mode = None
    if backend == "sqlite":
        with app.engine.connect() as connection:
            journal_mode = str(connection.execute(text("PRAGMA journal_mode")).scalar_one())
    return StoreStatus(
        url=mask_url(app.settings.database_url),
        backend=backend,
        revision=current_revision(app.engine),
        head=head_revision(),
        journal_mode=journal_mode,
    )


async def broker_status(connection: BrokerConnection) -> BrokerStatus:
    """Inspect the broker: where it runs and how full each stream is."""
    jetstream = connection.broker.connection.jetstream()
    streams = []
    for name in connection.streams:
        info = await jetstream.stream_info(name)
        streams.append(StreamStatus(name, int(info.state.messages), int(info.state.bytes)))
    embedded = connection.embedded
    return BrokerStatus(
        url=mask_url(connection.url),
        embedded=embedded is not None,
        pid=embedded.pid if embedded else None,
        server_version=connection.server_version,
        streams=tuple(streams),
    )
