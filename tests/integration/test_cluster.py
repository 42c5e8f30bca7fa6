"""Two handler processes on a three-node NATS cluster with PostgreSQL survive losing one of
either: nothing lost, nothing applied twice, order per account kept, partitions taken over."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.deadletter import list_dead_letters
from forwardflow.broker.envelope import ledger_message, partition_key
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.subscribers import ledger_backlog
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.store import SqlUnitOfWork, upgrade
from forwardflow.store.tables import inbox
from testkit.cluster import NatsCluster
from tests.strategies import random_history

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

TENANT = "realm-cluster"
EVENTS = 20_000
ACK_WAIT_S = 3
FORWARDFLOW = str(Path(sys.executable).parent / "forwardflow")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "nats") as started:
        yield started


@pytest.fixture
def app(tmp_path: Path, pg_url: str, cluster: NatsCluster, stream_prefix: str) -> Forwardflow:
    settings = load_settings(
        data_dir=tmp_path / "data",
        database=DatabaseSettings(url=pg_url),
        broker=BrokerSettings(
            url=cluster.urls,
            replicas=3,
            stream_prefix=stream_prefix,
            ack_wait_seconds=ACK_WAIT_S,
        ),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    return app


def _env(app: Forwardflow) -> dict[str, str]:
    settings = app.settings
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")},
        "FORWARDFLOW_DATA_DIR": str(settings.data_dir),
        "FORWARDFLOW_DATABASE__URL": str(settings.database.url),
        "FORWARDFLOW_BROKER__URL": str(settings.broker.url),
        "FORWARDFLOW_BROKER__REPLICAS": "3",
        "FORWARDFLOW_BROKER__STREAM_PREFIX": settings.broker.stream_prefix,
        "FORWARDFLOW_BROKER__ACK_WAIT_SECONDS": str(ACK_WAIT_S),
        "FORWARDFLOW_LOG__LEVEL": "WARNING",
        "FORWARDFLOW_HTTP__PORT": "0",  # every role listens; several run on this host
    }


def _worker(app: Forwardflow, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [FORWARDFLOW, "run", "--role", "handlers"],
        env=_env(app),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _applied(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(inbox)).scalar_one())


async def _publish_all(app: Forwardflow, changes: list[Any]) -> None:
    """Publish every change (R3: each publish is acknowledged by a quorum), 500 at a time."""
    async with connect_broker(app.settings) as connection:
        jetstream = connection.broker.connection.jetstream()
        for start in range(0, len(changes), 500):
            messages = [ledger_message(app.topology, TENANT, c) for c in changes[start:][:500]]
            await asyncio.gather(
                *(jetstream.publish(s, body, headers=h) for s, body, h in messages)
            )


async def _ack_floors(app: Forwardflow) -> dict[int, tuple[int, int]]:
    """Per partition: (stream sequence acknowledged so far, messages not yet delivered)."""
    async with connect_broker(app.settings) as connection:
        jetstream = connection.broker.connection.jetstream()
        floors = {}
        for partition in range(app.topology.partitions):
            info = await jetstream.consumer_info(
                app.topology.stream("LEDGER"), app.topology.ledger_consumer(partition)
            )
            floors[partition] = (info.ack_floor.stream_seq, info.num_pending)
        return floors


def _wait_for(condition: Any, timeout: float, what: str, workers: list[Any], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for worker in workers:
            assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _floors_after_kill(app: Forwardflow) -> dict[int, tuple[int, int]]:
    deadline = time.monotonic() + 60
    while True:
        try:
            return asyncio.run(_ack_floors(app))
        except Exception:  # a NATS leader election in progress: ask again
            assert time.monotonic() < deadline, "no consumer info a minute after the kill"
            time.sleep(0.2)


def _leader_of_ledger(app: Forwardflow, cluster: NatsCluster) -> int:
    async def leader() -> str:
        async with connect_broker(app.settings) as connection:
            info = await connection.broker.connection.jetstream().stream_info(
                app.topology.stream("LEDGER")
            )
            assert info.cluster is not None
            return str(info.cluster.leader)

    name = asyncio.run(leader())
    return next(n for n, node in enumerate(cluster.nodes) if node.name == name)


def _take_over_time(
    app: Forwardflow, cluster: NatsCluster, victim: str, workers: list[Any], log: Path
) -> float:
    """Kill the victim; seconds until every busy partition moved on past what it held."""
    leader = _leader_of_ledger(app, cluster)
    killed_at = time.monotonic()
    if victim == "handler process":
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
    else:
        cluster.kill(leader)  # the node leading the ledger stream
    floors_before = _floors_after_kill(app)  # what the victim held cannot move from here
    waiting = {p for p, (_, pending) in floors_before.items() if pending}

    def every_partition_moved() -> bool:
        try:
            floors = asyncio.run(_ack_floors(app))
        except Exception:  # a NATS leader election in progress: ask again
            return False
        return all(floors[p][0] > floors_before[p][0] for p in waiting)

    alive = [w for w in workers if w.poll() is None]
    _wait_for(every_partition_moved, 120, f"the partitions after the {victim}", alive, log)
    return time.monotonic() - killed_at


def test_two_handler_processes_on_a_cluster_survive_losing_one_of_each(
    app: Forwardflow, cluster: NatsCluster, tmp_path: Path
) -> None:
    """One stream of 20,000 events: a handler process is killed at a third, the node
    leading the ledger stream at two thirds; the rest carries on, once and in order."""
    book = random_history(random.Random(EVENTS), EVENTS)
    changes = book.changes[:EVENTS]
    assert len(changes) == EVENTS
    expected = type(book.ledger)(TENANT)
    for change in changes:
        expected.apply(change)
    asyncio.run(_publish_all(app, changes))  # declares the R3 streams, then fills the ledger
    log = tmp_path / "workers.log"
    workers = [_worker(app, log), _worker(app, log)]
    took: dict[str, float] = {}
    try:
        for share, victim in ((1 / 3, "handler process"), (2 / 3, "nats node")):
            alive = [w for w in workers if w.poll() is None]
            _wait_for(
                lambda share=share: _applied(app.engine) >= EVENTS * share,
                240,
                f"{share:.0%} applied",
                alive,
                log,
            )
            took[victim] = _take_over_time(app, cluster, victim, workers, log)
        survivors = [w for w in workers if w.poll() is None]
        _wait_for(lambda: _applied(app.engine) >= EVENTS, 300, "every event", survivors, log)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)

    print(  # the figures the issue asks for, shown with pytest -s
        f"\nhandler process killed: busy partitions moved on within "
        f"{took['handler process']:.1f} s (ack_wait {ACK_WAIT_S} s); nats node killed: "
        f"within {took['nats node']:.1f} s"
    )
    _assert_exactly_once_in_order(app, changes, expected)


def _assert_exactly_once_in_order(app: Forwardflow, changes: list[Any], expected: Any) -> None:
    async def leftovers() -> tuple[int, list[Any]]:
        async with connect_broker(app.settings) as connection:
            backlog = await ledger_backlog(connection.broker, app.topology)
            letters = await list_dead_letters(connection.broker, app.topology)
            for name in connection.streams:
                await connection.broker.connection.jetstream().delete_stream(name)
            return backlog, letters

    backlog, letters = asyncio.run(leftovers())
    assert backlog == 0
    assert letters == []
    with SqlUnitOfWork(app.engine) as uow:
        assert uow.ledger.load(TENANT).snapshot() == expected.snapshot()  # nothing lost
        rows = uow.connection.execute(select(inbox.c.event_id, inbox.c.processed_at)).all()
    assert len(rows) == len(changes)  # each event applied once, none twice
    # order per account: within a partition (one customer's changes are in one), the
    # events were applied in the order they were published
    position = {change.event_id: n for n, change in enumerate(changes)}
    partition = {
        change.event_id: app.topology.partition_of(partition_key(change)) for change in changes
    }
    applied: dict[int, list[tuple[Any, int]]] = {}
    for event_id, processed_at in rows:
        applied.setdefault(partition[event_id], []).append((processed_at, position[event_id]))
    for part, events in applied.items():
        order = [pos for _, pos in sorted(events)]
        assert order == sorted(order), f"partition {part} applied events out of order"
    app.close()
