"""The HTTP listener under slow and greedy clients: read deadlines, a connection cap that
keeps /healthz reachable, a bounded request head."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.net import free_port
from forwardflow.service import Role, serve
from forwardflow.settings import (
    BrokerSettings,
    DatabaseSettings,
    HttpSettings,
    ScheduleSettings,
    load_settings,
)
from forwardflow.store import upgrade

pytestmark = [pytest.mark.nats, pytest.mark.anyio]
CAP = 20


@pytest.fixture
async def service(
    tmp_path: Path, sqlite_url: str, nats_url: str, stream_prefix: str
) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=sqlite_url),
        broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix),
        http=HttpSettings(
            port=port, header_timeout_seconds=1, body_timeout_seconds=1, max_connections=CAP
        ),
        schedule=ScheduleSettings(interval_seconds=0),
    )
    app: Forwardflow = bootstrap(settings)
    upgrade(app.engine)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, Role.HTTP, stop))
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    try:
        yield base, port
    finally:
        stop.set()
        await task
        app.close()


def _closed_by_server(sock: socket.socket, within: float) -> tuple[bool, bytes]:
    """Wait until the server closes the connection; what it sent before."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            try:
                sock.send(b"X")  # the slow client keeps trickling
            except OSError:
                return True, received
            continue
        except OSError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


async def test_a_slow_header_is_cut_off(service: tuple[str, int]) -> None:
    _, port = service
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed, received = await asyncio.to_thread(_closed_by_server, sock, 5)
    assert closed
    assert received.startswith(b"HTTP/1.1 408")


async def test_a_slow_body_is_cut_off(service: tuple[str, int]) -> None:
    _, port = service
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /webhooks/quickbooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"
        )
        began = time.monotonic()
        closed, _ = await asyncio.to_thread(_closed_by_server, sock, 5)
    assert closed
    assert time.monotonic() - began < 4


async def test_a_flood_of_slow_clients_cannot_lock_out_health_checks(
    service: tuple[str, int],
) -> None:
    base, port = service

    def open_slow() -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        return sock

    slow = [await asyncio.to_thread(open_slow) for _ in range(5 * CAP)]
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            for _ in range(3):
                began = time.monotonic()
                assert (await client.get(f"{base}/healthz")).status_code == 200
                assert time.monotonic() - began < 2
        await asyncio.sleep(0.3)

        def still_open(sock: socket.socket) -> bool:
            sock.setblocking(False)
            while True:  # read what was sent (a 408) up to the end, if the server closed
                try:
                    if sock.recv(4096) == b"":
                        return False
                except BlockingIOError:
                    return True
                except OSError:
                    return False

        assert sum(still_open(s) for s in slow) <= CAP  # the rest were dropped by the server
    finally:
        for sock in slow:
            sock.close()


async def test_an_oversized_request_head_is_refused(service: tuple[str, int]) -> None:
    base, _ = service
    async with httpx.AsyncClient() as client:
        try:  # h11 refuses a head over the limit while it is still arriving
            answer = await client.get(f"{base}/healthz", headers={"X-Big": "a" * 1_000_000})
        except httpx.HTTPError:  # answered 400 and closed while the client was still sending
            answer = None
        assert answer is None or answer.status_code == 400
        assert (await client.get(f"{base}/healthz")).status_code == 200
