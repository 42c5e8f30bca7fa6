"""The broker binding against the running NATS server: streams, dedupe, the outbox relay."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from forwardflow.broker.relay import relay_pending
from forwardflow.broker.runtime import BrokerConnection, connect_broker
from forwardflow.broker.topology import Topology
from forwardflow.settings import BrokerSettings, load_settings
from forwardflow.store import SqlUnitOfWork

pytestmark = [pytest.mark.nats, pytest.mark.anyio]


@pytest.fixture
async def connection(nats_url: str, stream_prefix: str) -> AsyncIterator[BrokerConnection]:
    settings = load_settings(broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix))
    async with connect_broker(settings) as connected:
        yield connected
        jetstream = connected.broker.connection.jetstream()
        for name in connected.streams:
            await jetstream.delete_stream(name)


async def test_an_external_server_is_used_as_is(connection: BrokerConnection) -> None:
    assert connection.embedded is None
    assert all(name.startswith("T") for name in connection.streams)


async def test_streams_are_declared_idempotently(
    connection: BrokerConnection, nats_url: str, stream_prefix: str
) -> None:
    settings = load_settings(broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix))
    async with connect_broker(settings) as again:
        assert again.streams == connection.streams


async def test_the_same_event_id_is_stored_once(connection: BrokerConnection) -> None:
    topology = Topology(connection.streams[0].split("_")[0])
    subject = topology.event_subject("Dup")
    jetstream = connection.broker.connection.jetstream()
    first = await jetstream.publish(subject, b"1", headers={"Nats-Msg-Id": "evt-1"})
    second = await jetstream.publish(subject, b"1", headers={"Nats-Msg-Id": "evt-1"})
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq


async def test_relay_publishes_in_order_with_ids_and_marks_published(
    connection: BrokerConnection, migrated_engine: Engine
) -> None:
    topology = Topology(connection.streams[0].split("_")[0])
    subject = topology.event_subject("Relayed")
    with SqlUnitOfWork(migrated_engine) as uow:
        for n in range(20):
            uow.outbox.add(event_id=f"relay-{n}", subject=subject, payload={"n": n})
        uow.commit()

    def new_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(migrated_engine)

    assert await relay_pending(new_uow, connection.broker, topology, limit=7) == 7
    assert await relay_pending(new_uow, connection.broker, topology) == 13
    assert await relay_pending(new_uow, connection.broker, topology) == 0

    jetstream = connection.broker.connection.jetstream()
    subscription = await jetstream.pull_subscribe(
        subject, durable=None, stream=topology.stream_for(subject)
    )
    messages = await subscription.fetch(20, timeout=5)
    assert [json.loads(m.data)["n"] for m in messages] == list(range(20))
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [f"relay-{n}" for n in range(20)]
    assert all(m.headers["event_id"] == m.headers["Nats-Msg-Id"] for m in messages)


async def test_a_relay_that_crashed_before_marking_publishes_no_duplicate(
    connection: BrokerConnection, migrated_engine: Engine
) -> None:
    topology = Topology(connection.streams[0].split("_")[0])
    subject = topology.event_subject("Crash")
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.outbox.add(event_id="crash-1", subject=subject, payload={"n": 1})
        uow.commit()
    jetstream = connection.broker.connection.jetstream()
    # The relay published, then died before marking the row: simulate by publishing first.
    await jetstream.publish(subject, b'{"n": 1}', headers={"Nats-Msg-Id": "crash-1"})
    assert (
        await relay_pending(lambda: SqlUnitOfWork(migrated_engine), connection.broker, topology)
        == 1
    )
    info = await jetstream.stream_info(topology.stream_for(subject))
    assert info.state.messages == 1
