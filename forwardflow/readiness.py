"""Readiness checks run on an interval, each remembered with its state and since when.

Every role registers the checks of its parts (the store, the broker, consumer lag,
platform catch-up, buyers' SFTP, dead letters …). ``poll_forever`` runs them every
``health.poll_seconds``; ``/readyz`` answers from the last round at once, so a probe
never waits on a slow dependency, and a broken dependency turns it 503 within one
interval (and back to 200 when healed). A check may answer for several things at once
(one per platform company, one per buyer): it returns a mapping of names to problems.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["CheckResult", "CheckState", "Readiness"]

log = logging.getLogger("forwardflow.readiness")

CheckResult = str | None | Mapping[str, str | None]
"""None: fine; a string: what is wrong; a mapping: one result per named thing."""

Check = Callable[[], Awaitable[CheckResult]]


@dataclass
class CheckState:
    """One check's last outcome and since when it has been so."""

    ok: bool
    since: datetime
    checked_at: datetime
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON ``/readyz`` shows for this check."""
        return {
            "status": "ok" if self.ok else "failing",
            "since": self.since.isoformat(),
            "checked_at": self.checked_at.isoformat(),
            **({"detail": self.detail} if self.detail else {}),
        }


class Readiness:
    """The role's readiness checks and their last results."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._checks: dict[str, Check] = {}
        self.states: dict[str, CheckState] = {}
        self.attention: dict[str, list[str]] = {}
        """What needs an operator without making the role unready, by the check that saw it."""
        self.rounds = 0
        self.polled = asyncio.Event()
        """Set once the first round is done (the role's port serves after it)."""

    def add(self, name: str, check: Check) -> None:
        """Register a check (a mapping result names its parts ``name:part``)."""
        self._checks[name] = check

    def _set(self, name: str, problem: str | None, now: datetime) -> None:
        held = self.states.get(name)
        ok = problem is None
        if held is None or held.ok != ok:
            if held is not None:
                level = logging.INFO if ok else logging.WARNING
                log.log(
                    level,
                    "readiness check=%s %s %s",
                    name,
                    "ok" if ok else "failing",
                    problem or "",
                )
            self.states[name] = CheckState(ok, now, now, problem)
        else:
            held.checked_at, held.detail = now, problem

    async def _run(self, check: Check) -> CheckResult:
        try:
            return await asyncio.wait_for(check(), self.timeout_s)
        except TimeoutError:
            return f"no answer within {self.timeout_s:.0f} s"
        except Exception as error:  # a check that breaks is a failing check; say which kind
            return f"check failed: {type(error).__name__}: {str(error)[:200]}"

    async def poll_once(self) -> None:
        """Run every check once, together, and record the outcomes."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[n]) for n in names))
        now = datetime.now(UTC)
        seen: set[str] = set()
        for name, result in zip(names, results, strict=True):
            if isinstance(result, Mapping):
                for part, problem in result.items():
                    seen.add(f"{name}:{part}")
                    self._set(f"{name}:{part}", problem, now)
            else:
                seen.add(name)
                self._set(name, result, now)
        for gone in set(self.states) - seen:  # a company disconnected, a buyer removed
            del self.states[gone]
        self.rounds += 1
        self.polled.set()

    async def poll_forever(self, interval_s: float, stop: asyncio.Event) -> None:
        """Poll every ``interval_s`` until stopped."""
        while not stop.is_set():
            await self.poll_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    @property
    def failing(self) -> list[str]:
        """``name: detail`` of every failing check."""
        return [f"{n}: {s.detail}" for n, s in sorted(self.states.items()) if not s.ok]

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the JSON body of ``/readyz``); not ready until the first round is done."""
        failing = self.failing
        ready = self.rounds > 0 and not failing
        status = "ready" if ready else ("starting" if self.rounds == 0 else "not ready")
        body: dict[str, Any] = {
            "status": status,
            "checks": {n: s.as_json() for n, s in sorted(self.states.items())},
        }
        if failing:
            body["failing"] = failing
        if attention := [line for lines in self.attention.values() for line in lines]:
            body["attention"] = attention
        return ready, body
