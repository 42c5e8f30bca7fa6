"""forwardflow's service running inside a test's event loop, and waiting for what it does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from forwardflow.bootstrap import Forwardflow
from forwardflow.service import Role, serve

__all__ = ["eventually", "running_service"]


@asynccontextmanager
async def running_service(
    app: Forwardflow, role: Role = Role.ALL, ready_within: float = 15.0, probe: str = "/readyz"
) -> AsyncIterator[str]:
    """``serve(app, role)`` until the block ends; yields its base URL once ``probe`` answers
    200 (or ``ready_within`` seconds passed: the test's own checks then say what is missing)."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, role, stop))
    base = f"http://127.0.0.1:{app.settings.http.port}"
    deadline = time.monotonic() + ready_within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and not task.done():
            try:
                if (await client.get(f"{base}{probe}")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    try:
        yield base
    finally:
        stop.set()
        await task


async def eventually(check: Callable[[], bool], timeout: float = 30.0, poll: float = 0.1) -> float:
    """Run ``check`` (off the loop) until it is true; the seconds it took. Fails the test
    after ``timeout`` seconds."""
    began = time.monotonic()
    while not await asyncio.to_thread(check):
        assert time.monotonic() - began < timeout, f"not within {timeout} s"
        await asyncio.sleep(poll)
    return time.monotonic() - began
