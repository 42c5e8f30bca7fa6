"""Honest probes: ``/healthz`` fails when a vital part is dead, ``/readyz`` when work would fail.

Liveness asks the parts the service registered (the broker connection, the embedded
broker's supervisor, the background loops): a dead one means the process should be
restarted. Readiness does what real work does — a committed write to the store — and
looks at what the work produced: dead letters piling up faster than the threshold mean
events are being parked, not applied, whatever the store and broker say.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import update

from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.store.tables import store_probes

__all__ = ["DeadLetterRate", "Vitals", "free_disk_problem", "probe_store"]

log = logging.getLogger("forwardflow.health")

_PROBE = "readyz"
_PROBE_TIMEOUT_S = 5.0

Check = Callable[[], str | None]
"""A vital part's check: None when it is alive, else what is wrong."""


class Vitals:
    """The parts whose death means the process is dead, each with a check."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def watch(self, name: str, check: Check) -> None:
        """Register (or replace) a vital part."""
        self._checks[name] = check

    def watch_task(self, name: str, task: asyncio.Task[None]) -> None:
        """A background loop: dead once it has failed (one switched off just returns)."""

        def check() -> str | None:
            if not task.done() or task.cancelled() or task.exception() is None:
                return None
            return f"failed ({type(task.exception()).__name__})"

        self.watch(name, check)

    def failing(self) -> list[str]:
        """``name: why`` for every dead part."""
        found = []
        for name, check in self._checks.items():
            try:
                problem = check()
            except Exception as error:  # a check that breaks is itself a dead part
                problem = f"check failed ({type(error).__name__})"
            if problem:
                found.append(f"{name}: {problem}")
        return found


def broker_check(bus: Bus, grace_s: float = 60.0) -> Check:
    """The broker client: dead when closed, or disconnected for longer than ``grace_s``."""
    since: list[float] = []

    def check() -> str | None:
        closed, connected = bus.client_state()
        if closed:
            return "connection closed"
        if connected:
            since.clear()
            return None
        since[:] = since or [time.monotonic()]
        down = time.monotonic() - since[0]
        return f"disconnected for {down:.0f} s" if down > grace_s else None

    return check


def _write_probe(app: Forwardflow) -> None:
    now = datetime.now(UTC)
    with app.unit_of_work() as uow:
        done = uow.connection.execute(
            update(store_probes).where(store_probes.c.name == _PROBE).values(checked_at=now)
        )
        if done.rowcount == 0:
            uow.connection.execute(store_probes.insert().values(name=_PROBE, checked_at=now))
        uow.commit()


async def probe_store(app: Forwardflow) -> str | None:
    """Commit a small write, as every handler does; None when it worked, else why not.

    A read-only or full store answers reads and fails every write: only a committed
    write finds it out. Bounded in time, so a locked store does not hang the probe.
    """
    try:
        await asyncio.wait_for(asyncio.to_thread(_write_probe, app), _PROBE_TIMEOUT_S)
    except TimeoutError:
        return f"database: no write within {_PROBE_TIMEOUT_S:.0f} s"
    except Exception as error:  # any failure means not ready; say which, in one line
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        return f"database cannot write: {reason[0][:200] if reason else type(error).__name__}"
    return None


def free_disk_problem(app: Forwardflow) -> str | None:
    """Too little space left in the data directory (the SQLite store and JetStream live there)."""
    least = app.settings.health.min_free_disk_mb
    if not least:
        return None
    try:
        free = shutil.disk_usage(app.settings.data_dir).free // (1024 * 1024)
    except OSError as error:
        return f"data directory unreadable: {error.strerror}"
    return f"disk: {free} MB free in the data directory, under {least} MB" if free < least else None


class DeadLetterRate:
    """Dead letters parked within the last window, from the dead-letter stream's sequence.

    The stream's last sequence only grows (a purge does not lower it), so the number
    parked between two samples is their difference. Samples are taken on each readiness
    round (``forwardflow.readiness``).
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def record(self, last_sequence: int, now: float | None = None) -> int:
        """Add a sample; the dead letters counted within the window."""
        now = time.monotonic() if now is None else now
        self._samples.append((now, last_sequence))
        while len(self._samples) > 1 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()
        return max(0, last_sequence - self._samples[0][1])

    async def problem(self, bus: Bus, stream: str) -> str | None:
        """Not ready when more than ``limit`` letters were parked within the window."""
        if not self.limit:
            return None
        parked = self.record(await bus.last_sequence(stream))
        if parked > self.limit:
            return (
                f"dead letters: {parked} in the last {self.window_s:.0f} s "
                f"(over {self.limit}); see `forwardflow dlq list`"
            )
        return None
