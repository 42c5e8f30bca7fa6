"""Ledger events through real NATS JetStream into SQLite and PostgreSQL, exactly once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from faststream.nats import NatsBroker

from debtsale.changes import LedgerChange
from debtsale.errors import DomainError
from debtsale.ledger import Ledger
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.deadletter import list_dead_letters, replay
from forwardflow.broker.envelope import MSG_ID, ledger_message
from forwardflow.broker.runtime import BrokerConnection, connect_broker
from forwardflow.broker.subscribers import ledger_backlog, register_ledger_subscribers
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.store import SqlUnitOfWork, upgrade
from handlers.ledger import Outcome, apply_ledger_change, ledger_consumer
from tests.strategies import random_history

pytestmark = [pytest.mark.nats, pytest.mark.anyio]
TENANT = "realm-4620816365"


@pytest.fixture
def app(tmp_path: Path, db_url: str, nats_url: str, stream_prefix: str) -> Forwardflow:
    settings = load_settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=db_url),
        broker=BrokerSettings(
            url=nats_url,
            stream_prefix=stream_prefix,
            partitions=4,
            max_deliver=5,  # margin: a delivery lost to a pull-request race still counts
            ack_wait_seconds=3,
        ),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    return app


async def _running(
    app: Forwardflow, apply: Callable[..., Outcome] = apply_ledger_change
) -> AsyncIterator[BrokerConnection]:
    def make(servers: list[str]) -> NatsBroker:
        broker = NatsBroker(servers=servers)
        register_ledger_subscribers(broker, app, apply=apply)
        return broker

    async with connect_broker(app.settings, make, start=True) as connection:
        try:
            yield connection
        finally:
            jetstream = connection.broker.connection.jetstream()
            for name in connection.streams:
                await jetstream.delete_stream(name)


async def _publish(
    connection: BrokerConnection, app: Forwardflow, change: LedgerChange, copy: int = 0
) -> None:
    subject, body, headers = ledger_message(app.topology, TENANT, change)
    headers[MSG_ID] = f"{headers[MSG_ID]}#{copy}"  # a redelivery past the dedupe window
    await connection.broker.connection.jetstream().publish(subject, body, headers=headers)


async def _drained(connection: BrokerConnection, app: Forwardflow, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        busy = await ledger_backlog(connection.broker, app.topology)
        if busy == 0:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{busy} messages still pending"
        await asyncio.sleep(0.2)


def _assert_same_facts(app: Forwardflow, expected: Ledger) -> None:
    with SqlUnitOfWork(app.engine) as uow:
        stored = uow.ledger.load(TENANT).snapshot()
    want = expected.snapshot()
    for family, entries in want.items():
        held = stored[family]
        assert isinstance(held, dict)
        assert isinstance(entries, dict)
        differing = {k for k in set(entries) | set(held) if entries.get(k) != held.get(k)}
        assert not differing, (
            family,
            sorted(differing)[:5],
            [(entries.get(k), held.get(k)) for k in sorted(differing)[:2]],
        )


async def test_a_thousand_events_three_times_shuffled_end_as_the_ordered_stream_once(
    app: Forwardflow,
) -> None:
    rnd = random.Random(20261123)
    book = random_history(rnd, 1000)
    deliveries = [(change, copy) for copy in range(3) for change in book.changes]
    rnd.shuffle(deliveries)
    async for connection in _running(app):
        for change, copy in deliveries:
            await _publish(connection, app, change, copy)
        await _drained(connection, app)
        assert await list_dead_letters(connection.broker, app.topology) == []
    _assert_same_facts(app, book.ledger)


async def test_a_poison_message_is_dead_lettered_and_the_rest_keeps_flowing(
    app: Forwardflow,
) -> None:
    book = random_history(random.Random(7), 60)
    broken = {"event_id": book.changes[10].event_id}

    def apply(uow: Any, tenant: str, change: LedgerChange) -> Outcome:
        if change.event_id == broken["event_id"]:
            raise DomainError("test.bug", "a bug in the handler for this one event")
        return apply_ledger_change(uow, tenant, change)

    async for connection in _running(app, apply):
        jetstream = connection.broker.connection.jetstream()
        await jetstream.publish(
            app.topology.ledger_subject(TENANT, 0),
            b"{not json",
            headers={MSG_ID: "garbage-1", "event_id": "garbage-1"},
        )
        for change in book.changes:
            await _publish(connection, app, change)
        await _drained(connection, app)
        letters = await list_dead_letters(connection.broker, app.topology)
        assert {letter.headers.get("event_id") for letter in letters} == {
            "garbage-1",
            broken["event_id"],
        }
        by_id = {letter.headers.get("event_id"): letter for letter in letters}
        assert "envelope.json" in by_id["garbage-1"].reason
        assert "test.bug" in by_id[broken["event_id"]].reason
        assert by_id[broken["event_id"]].subject.startswith(
            app.topology.ledger_subject(TENANT, 0).rsplit(".", 1)[0]
        )

        with SqlUnitOfWork(app.engine) as uow:  # everything but the poison was applied
            consumer = ledger_consumer(TENANT)
            assert not uow.inbox.seen(consumer, book.changes[10].event_id)
            assert all(
                uow.inbox.seen(consumer, change.event_id)
                for n, change in enumerate(book.changes)
                if n != 10
            )

        broken["event_id"] = "fixed"  # the cause is fixed; the operator replays
        await replay(connection.broker, app.topology, by_id[book.changes[10].event_id])
        await _drained(connection, app)
        remaining = await list_dead_letters(connection.broker, app.topology)
        assert [letter.headers.get("event_id") for letter in remaining] == ["garbage-1"]
    _assert_same_facts(app, book.ledger)


async def test_a_transient_error_is_retried_and_then_succeeds(app: Forwardflow) -> None:
    book = random_history(random.Random(3), 10)
    failures = {"left": 2}

    def flaky(uow: Any, tenant: str, change: LedgerChange) -> Outcome:
        if failures["left"] and change.event_id == book.changes[0].event_id:
            failures["left"] -= 1
            raise ConnectionError("database restarting")
        return apply_ledger_change(uow, tenant, change)

    async for connection in _running(app, flaky):
        for change in book.changes:
            await _publish(connection, app, change)
        await _drained(connection, app, timeout=60)
        assert await list_dead_letters(connection.broker, app.topology) == []
    assert failures["left"] == 0
    _assert_same_facts(app, book.ledger)


async def test_a_consumer_made_by_an_earlier_version_is_brought_to_batches(
    app: Forwardflow,
) -> None:
    from nats.js.api import AckPolicy as JsAckPolicy
    from nats.js.api import ConsumerConfig

    book = random_history(random.Random(11), 40)
    async with connect_broker(app.settings) as connection:  # as the earlier version left it
        jetstream = connection.broker.connection.jetstream()
        for partition in range(app.topology.partitions):
            await jetstream.add_consumer(
                app.topology.stream("LEDGER"),
                ConsumerConfig(
                    durable_name=app.topology.ledger_consumer(partition),
                    ack_policy=JsAckPolicy.EXPLICIT,
                    max_ack_pending=1,
                    max_deliver=6,
                    filter_subject=app.topology.ledger_filter(partition),
                ),
            )
    async for connection in _running(app):
        for change in book.changes:
            await _publish(connection, app, change)
        await _drained(connection, app)
        jetstream = connection.broker.connection.jetstream()
        for partition in range(app.topology.partitions):
            info = await jetstream.consumer_info(
                app.topology.stream("LEDGER"), app.topology.ledger_consumer(partition)
            )
            if info.delivered.consumer_seq:  # the partition had a batch: it was updated
                assert info.config.max_ack_pending == app.settings.broker.ledger_batch_size
                assert info.config.max_deliver == -1
    _assert_same_facts(app, book.ledger)
