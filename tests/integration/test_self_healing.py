"""Bad days for the running service: its embedded broker killed, its store unable to write,
dead letters piling up. It heals or stops, and its probes say what is true."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.nats import NatsBroker
from sqlalchemy import event

from debtsale.commands import FlagReceivable
from debtsale.lifecycle import ExclusionReason
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.bus import Bus
from forwardflow.broker.commands import send_command
from forwardflow.broker.runtime import connect_broker
from forwardflow.health import Vitals, broker_check
from forwardflow.net import free_port
from forwardflow.service import Role, ServiceFailedError, serve
from forwardflow.settings import (
    BrokerSettings,
    DatabaseSettings,
    HealthSettings,
    HttpSettings,
    ScheduleSettings,
    load_settings,
)
from forwardflow.store import upgrade
from forwardflow.web import Probes, http_app

pytestmark = [pytest.mark.nats, pytest.mark.anyio]


def _app(tmp_path: Path, broker: BrokerSettings, **more: Any) -> Forwardflow:
    more.setdefault("health", HealthSettings(poll_seconds=0.5))
    settings = load_settings(
        data_dir=tmp_path / "data",
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'ff.db'}"),
        broker=broker,
        http=HttpSettings(port=free_port()),
        schedule=ScheduleSettings(interval_seconds=0),
        **more,
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    return app


async def _until(check: Callable[[], Any], timeout: float) -> float:
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < timeout, f"not within {timeout} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - began


async def _status(base: str, path: str) -> int:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{base}{path}")).status_code
    except httpx.HTTPError:
        return 0


def _server_pid(app: Forwardflow) -> int:
    state = json.loads((app.settings.data_dir / "nats" / "server.json").read_text())
    return int(state["pid"])


def _gone(pid: int) -> bool:
    """No such process, not even a zombie waiting to be reaped."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[tuple[Forwardflow, str, asyncio.Task[None]]]:
    app = _app(tmp_path, BrokerSettings(ack_wait_seconds=3))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, Role.ALL, stop))
    base = f"http://127.0.0.1:{app.settings.http.port}"
    await _until(lambda: _ready(base), 60)
    try:
        yield app, base, task
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        app.close()


async def _ready(base: str) -> bool:
    return await _status(base, "/readyz") == 200


async def _not_ready(base: str) -> bool:
    return await _status(base, "/readyz") == 503


async def test_a_killed_embedded_broker_is_restarted_and_work_flows_again_within_10_s(
    embedded: tuple[Forwardflow, str, asyncio.Task[None]],
) -> None:
    app, base, service = embedded
    killed = _server_pid(app)
    os.kill(killed, signal.SIGKILL)
    began = time.monotonic()

    async def flowing() -> bool:
        if service.done() or await _status(base, "/healthz") != 200:
            return False
        try:
            async with connect_broker(app.settings, join_only=True) as connection:
                command = FlagReceivable(
                    command_id=f"heal-{time.monotonic()}",
                    tenant="realm-1",
                    receivable_id="I1",
                    reason=ExclusionReason.BANKRUPTCY,
                    since=date(2025, 1, 1),
                )
                answer = await send_command(connection.broker, app.topology, command, 2)
        except Exception:  # still restarting or reconnecting
            return False
        return answer.outcome == "applied"

    healed = await _until(flowing, 10)
    assert time.monotonic() - began < 10
    print(f"killed nats-server replaced and a command applied {healed:.2f} s later")
    assert _server_pid(app) != killed
    assert _gone(killed)  # reaped: no defunct process left behind
    assert not service.done()


async def test_without_restarts_a_killed_broker_stops_the_service_saying_why(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path, BrokerSettings(embedded_restarts=0))
    stop = asyncio.Event()
    service = asyncio.create_task(serve(app, Role.ALL, stop))
    base = f"http://127.0.0.1:{app.settings.http.port}"
    try:
        await _until(lambda: _ready(base), 60)
        os.kill(_server_pid(app), signal.SIGKILL)
        began = time.monotonic()
        with pytest.raises(ServiceFailedError, match="nats-server died"):
            await asyncio.wait_for(service, timeout=30)
        assert time.monotonic() - began < 10
    finally:
        stop.set()
        await asyncio.gather(service, return_exceptions=True)
        app.close()


async def test_readiness_fails_when_the_store_cannot_write(
    embedded: tuple[Forwardflow, str, asyncio.Task[None]],
) -> None:
    app, base, _ = embedded

    def broken(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = 1")  # reads work, writes fail

    event.listen(app.engine, "connect", broken)
    app.engine.dispose()  # every new connection now refuses writes (read-only, full)
    try:
        await _until(lambda: _not_ready(base), 5)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{base}/readyz")
        assert answer.status_code == 503
        assert any("cannot write" in p for p in answer.json()["failing"]), answer.text
    finally:
        event.remove(app.engine, "connect", broken)
        app.engine.dispose()
    await _until(lambda: _ready(base), 5)  # healed within a poll interval


async def test_readiness_fails_when_the_data_directory_is_nearly_full(
    tmp_path: Path, nats_url: str
) -> None:
    app = _app(
        tmp_path,
        BrokerSettings(url=nats_url, stream_prefix=f"TDISK{free_port()}"),
        health=HealthSettings(min_free_disk_mb=10**12, poll_seconds=0.5),  # more than any has
    )
    stop = asyncio.Event()
    service = asyncio.create_task(serve(app, Role.HTTP, stop))
    base = f"http://127.0.0.1:{app.settings.http.port}"
    try:
        await _until(lambda: _alive(base), 60)
        await _until(lambda: _not_ready(base), 5)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{base}/readyz")
        assert answer.status_code == 503
        assert any(p.startswith("disk:") for p in answer.json()["failing"]), answer.text
    finally:
        stop.set()
        await asyncio.gather(service, return_exceptions=True)
        app.close()


async def _alive(base: str) -> bool:
    return await _status(base, "/healthz") == 200


async def test_readiness_fails_when_dead_letters_pile_up(tmp_path: Path, nats_url: str) -> None:
    prefix = f"TDLQ{free_port()}"
    app = _app(
        tmp_path,
        BrokerSettings(url=nats_url, stream_prefix=prefix),
        health=HealthSettings(
            dead_letter_limit=3, dead_letter_window_seconds=300, poll_seconds=0.5
        ),
    )
    stop = asyncio.Event()
    service = asyncio.create_task(serve(app, Role.ALL, stop))
    base = f"http://127.0.0.1:{app.settings.http.port}"
    try:
        await _until(lambda: _ready(base), 60)
        async with connect_broker(app.settings) as connection:
            jetstream = connection.broker.connection.jetstream()
            for _ in range(5):  # not ledger changes: each is dead-lettered at once
                await jetstream.publish(
                    app.topology.ledger_subject("realm-1", 0), b"not json", headers={}
                )

        async def not_ready() -> bool:
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"{base}/readyz")
            return answer.status_code == 503 and "dead letters" in answer.text

        await _until(not_ready, 20)
    finally:
        stop.set()
        await asyncio.gather(service, return_exceptions=True)
        app.close()


async def test_liveness_fails_when_the_broker_connection_is_dead(
    tmp_path: Path, nats_url: str
) -> None:
    app = _app(tmp_path, BrokerSettings(url=nats_url))
    broker = NatsBroker(servers=[nats_url])
    await broker.connect()
    vitals = Vitals()
    bus = Bus(broker, app.topology)
    vitals.watch("broker", broker_check(bus))
    web = http_app(app, bus, probes=Probes(vitals=vitals))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://ff"
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        await broker.connection.close()  # as when the client gives up reconnecting
        answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["broker: connection closed"]
    app.close()
