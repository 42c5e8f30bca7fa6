"""A worker killed with SIGKILL mid-stream, then restarted, loses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forwardflow.bootstrap import bootstrap
from forwardflow.broker.envelope import ledger_message
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.subscribers import ledger_backlog
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.store import SqlUnitOfWork, upgrade
from forwardflow.store.tables import inbox
from tests.strategies import random_history

pytestmark = [pytest.mark.nats]
TENANT = "realm-crash"
FORWARDFLOW = str(Path(sys.executable).parent / "forwardflow")


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [FORWARDFLOW, "run", "--role", "handlers"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _applied(engine: object) -> int:
    with SqlUnitOfWork(engine) as uow:  # type: ignore[arg-type]
        return int(uow.connection.execute(select(func.count()).select_from(inbox)).scalar_one())


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_stopped_mid_stream_and_restarted_ends_in_the_expected_state(
    tmp_path: Path, db_url: str, nats_url: str, stream_prefix: str, signum: int
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=db_url),
        broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix, ack_wait_seconds=3),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    rnd = random.Random(5000 + signum)
    book = random_history(rnd, 5000)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")},
        "FORWARDFLOW_DATA_DIR": str(tmp_path),
        "FORWARDFLOW_DATABASE__URL": db_url,
        "FORWARDFLOW_BROKER__URL": nats_url,
        "FORWARDFLOW_BROKER__STREAM_PREFIX": stream_prefix,
        "FORWARDFLOW_BROKER__ACK_WAIT_SECONDS": "3",
        "FORWARDFLOW_LOG__LEVEL": "WARNING",
        "FORWARDFLOW_HTTP__PORT": "0",  # every role listens; several run on this host
    }
    log = tmp_path / "worker.log"

    async def publish() -> None:
        async with connect_broker(settings) as connection:
            jetstream = connection.broker.connection.jetstream()
            for change in book.changes:
                subject, body, headers = ledger_message(app.topology, TENANT, change)
                await jetstream.publish(subject, body, headers=headers)

    worker = _worker(env, log)
    try:
        asyncio.run(publish())
        stop_at = rnd.randint(500, 4000)
        deadline = time.monotonic() + 120
        while _applied(app.engine) < stop_at:
            assert worker.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.05)
        worker.send_signal(signum)
        assert worker.wait(timeout=60) in (0, -signal.SIGKILL), log.read_text()[-2000:]
        applied_before_restart = _applied(app.engine)
        assert applied_before_restart < len(book.changes), "stopped too late to prove anything"
        worker = _worker(env, log)  # restart
        deadline = time.monotonic() + 180
        while _applied(app.engine) < len(book.changes):
            assert worker.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"stuck at {_applied(app.engine)}"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    async def unacked() -> int:
        async with connect_broker(settings) as connection:
            jetstream = connection.broker.connection.jetstream()
            pending = await ledger_backlog(connection.broker, app.topology)
            for name in connection.streams:
                await jetstream.delete_stream(name)
            return pending

    assert asyncio.run(unacked()) == 0
    with SqlUnitOfWork(app.engine) as uow:
        assert uow.ledger.load(TENANT).snapshot() == book.ledger.snapshot()
    assert _applied(app.engine) == len(book.changes)  # every event once, none twice
    app.close()


def test_a_worker_killed_inside_a_batch_commit_loses_nothing_and_doubles_nothing(
    tmp_path: Path, db_url: str, nats_url: str, stream_prefix: str
) -> None:
    """Batches of up to 200: the worker dies inside its third commit; a new one finishes."""
    settings = load_settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=db_url),
        broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix, ack_wait_seconds=3),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    book = random_history(random.Random(77), 3000)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")},
        "FORWARDFLOW_DATA_DIR": str(tmp_path),
        "FORWARDFLOW_DATABASE__URL": db_url,
        "FORWARDFLOW_BROKER__URL": nats_url,
        "FORWARDFLOW_BROKER__STREAM_PREFIX": stream_prefix,
        "FORWARDFLOW_BROKER__ACK_WAIT_SECONDS": "3",
        "FORWARDFLOW_LOG__LEVEL": "WARNING",
        "FORWARDFLOW_HTTP__PORT": "0",  # every role listens; several run on this host
    }
    log = tmp_path / "worker.log"

    async def publish() -> None:
        async with connect_broker(settings) as connection:
            jetstream = connection.broker.connection.jetstream()
            for change in book.changes:
                subject, body, headers = ledger_message(app.topology, TENANT, change)
                await jetstream.publish(subject, body, headers=headers)

    asyncio.run(publish())  # all waiting: the worker fetches full batches
    crashing = subprocess.Popen(
        [sys.executable, "-m", "testkit.crashing_worker", "3"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    assert crashing.wait(timeout=120) == -signal.SIGKILL, log.read_text()[-2000:]
    assert "SIGKILL inside commit 3" in log.read_text()
    applied_before = _applied(app.engine)
    assert 0 < applied_before < len(book.changes)  # two batches committed, the third not
    worker = _worker(env, log)
    try:
        deadline = time.monotonic() + 120
        while _applied(app.engine) < len(book.changes):
            assert worker.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"stuck at {_applied(app.engine)}"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    async def unacked() -> int:
        async with connect_broker(settings) as connection:
            pending = await ledger_backlog(connection.broker, app.topology)
            for name in connection.streams:
                await connection.broker.connection.jetstream().delete_stream(name)
            return pending

    assert asyncio.run(unacked()) == 0
    with SqlUnitOfWork(app.engine) as uow:
        assert uow.ledger.load(TENANT).snapshot() == book.ledger.snapshot()
    assert _applied(app.engine) == len(book.changes)  # every event once, none twice
    app.close()
