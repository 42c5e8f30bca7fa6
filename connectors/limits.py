"""Keeping a connector's calls within a platform's limits: so many at once, so many a minute."""

from __future__ import annotations

import collections
import threading
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``concurrent`` calls at once and ``per_minute`` in any 60 seconds.

    ``with limiter: call()`` waits for a slot, then for the sliding minute to admit one
    more call; the platforms count the same way (QuickBooks, Xero).
    """

    def __init__(self, concurrent: int = 10, per_minute: int = 500) -> None:
        self._slots = threading.BoundedSemaphore(concurrent)
        self._per_minute = per_minute
        self._recent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._slots.acquire()
        while True:
            with self._lock:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 60:
                    self._recent.popleft()
                if len(self._recent) < self._per_minute:
                    self._recent.append(now)
                    return
                wait = 60 - (now - self._recent[0])
            time.sleep(wait)

    def __exit__(self, *exc: object) -> None:
        self._slots.release()
