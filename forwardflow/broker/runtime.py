"""Connects FastStream to NATS: the embedded server when no URL is set, else the URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.nats import NatsBroker
from nats.errors import ConnectionClosedError, ConnectionReconnectingError

from forwardflow.broker.embedded import EmbeddedNats
from forwardflow.broker.topology import Topology, ensure_streams
from forwardflow.settings import Settings

__all__ = ["BrokerConnection", "connect_broker", "nats_server"]


@dataclass(frozen=True, slots=True)
class BrokerConnection:
    """A connected broker and what it runs on."""

    broker: NatsBroker
    url: str
    embedded: EmbeddedNats | None
    streams: tuple[str, ...]

    @property
    def server_version(self) -> str:
        """Version the server announced."""
        version = self.broker.connection.connected_server_version
        return f"{version.major}.{version.minor}.{version.patch}"


@asynccontextmanager
async def nats_server(
    settings: Settings, *, join_only: bool = False
) -> AsyncIterator[tuple[str, EmbeddedNats | None]]:
    """Yield the server URL, starting (and at exit stopping) the embedded one if no URL is set.

    ``join_only`` uses an embedded server the data directory already runs and never
    starts one (EmbeddedNatsError when there is none).
    """
    if settings.broker.url is not None:
        yield settings.broker.url, None
        return
    embedded = EmbeddedNats(
        data_dir=settings.data_dir,
        port=settings.broker.embedded_port,
        binary=settings.broker.nats_server_binary,
    )
    await asyncio.to_thread(lambda: embedded.start(join_only=join_only))
    try:
        yield embedded.url, embedded
    finally:
        await asyncio.to_thread(embedded.stop)


def _plain_broker(servers: list[str]) -> NatsBroker:
    return NatsBroker(servers=servers)


@asynccontextmanager
async def connect_broker(
    settings: Settings,
    make_broker: Callable[[list[str]], NatsBroker] = _plain_broker,
    *,
    start: bool = False,
    join_only: bool = False,
) -> AsyncIterator[BrokerConnection]:
    """Reach the server, connect a broker built by ``make_broker`` and declare the streams.

    With ``start`` its subscribers start consuming too. On exit the broker drains and an
    embedded server started here is stopped. ``join_only``: see ``nats_server``.
    """
    async with nats_server(settings, join_only=join_only) as (url, embedded):
        broker = make_broker(url.split(","))
        await broker.connect()
        try:
            topology = Topology.of(settings.broker)
            streams = await ensure_streams(broker.connection.jetstream(), topology)
            if start:
                await broker.start()
            yield BrokerConnection(broker, url, embedded, tuple(streams))
        finally:
            try:
                await broker.stop()
            except (ConnectionReconnectingError, ConnectionClosedError):
                # the server is gone (the service is stopping because of it): nothing
                # to drain; close the client so it stops reconnecting (its last flush may
                # find the socket gone: that is the same fact, not a second failure)
                with contextlib.suppress(OSError, ConnectionClosedError):
                    await broker.connection.close()
