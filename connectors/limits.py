"""Keeping a connector's calls within a platform's limits: so many at once, so many a minute."""

from __future__ import annotations

import collections
import threading
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``concurrent`` calls at once and ``per_minute`` in any 60 seconds.

    ``with limiter: call()`` waits for a slot, then for the sliding minute to admit one
    more call; the platforms count the same way (QuickBooks, Xero). The minute is counted
    a second long here: a call is stamped as it leaves and counted by the platform as it
    arrives, so at the window's edge a limiter of exactly 60 s is refused (429) by the
    platform it keeps to, and the retry costs far more than the second.
    """

    WINDOW_S = 61.0

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
                while self._recent and now - self._recent[0] >= self.WINDOW_S:
                    self._recent.popleft()
                if len(self._recent) < self._per_minute:
                    self._recent.append(now)
                    return
                wait = self.WINDOW_S - (now - self._recent[0])
            time.sleep(wait)

    def __exit__(self, *exc: object) -> None:
        self._slots.release()
