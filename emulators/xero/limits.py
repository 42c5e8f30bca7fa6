"""Xero's rate limits in the emulator, with the real headers: per organisation 5 calls at
once, 60 a minute and 5,000 a day (each settable), 429 with ``Retry-After``."""

from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Limits"]


@dataclass
class Limits:
    """Counts calls per organisation; ``take`` admits one or says why not."""

    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10_000
    _minute: dict[str, collections.deque[float]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque)
    )
    _day: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    _running: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def headers(self, tenant: str) -> dict[str, str]:
        """The limit headers Xero puts on every answer."""
        now = time.monotonic()
        recent = [t for t in self._minute[tenant] if now - t < 60]
        return {
            "X-MinLimit-Remaining": str(max(self.per_minute - len(recent), 0)),
            "X-DayLimit-Remaining": str(max(self.per_day - self._day[tenant], 0)),
            "X-AppMinLimit-Remaining": str(self.app_per_minute - len(recent)),
        }

    def take(self, tenant: str) -> tuple[str, int] | None:
        """Admit a call (None), or (problem, Retry-After seconds): minute, day, concurrent."""
        with self._lock:
            now = time.monotonic()
            window = self._minute[tenant]
            while window and now - window[0] >= 60:
                window.popleft()
            if self._day[tenant] >= self.per_day:
                return "day", 86_400
            if len(window) >= self.per_minute:
                return "minute", max(1, math.ceil(60 - (now - window[0])))
            if self._running[tenant] >= self.concurrent:
                return "concurrent", 1
            window.append(now)
            self._day[tenant] += 1
            self._running[tenant] += 1
            return None

    def done(self, tenant: str) -> None:
        """A call admitted by ``take`` has been answered."""
        with self._lock:
            self._running[tenant] -= 1

    def spend_day(self, tenant: str) -> None:
        """Use up the organisation's day (to test what happens then)."""
        with self._lock:
            self._day[tenant] = self.per_day
