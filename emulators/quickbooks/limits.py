"""The emulator's request limit per company: Intuit's sliding window of N calls a minute."""

from __future__ import annotations

import collections
import threading
import time

__all__ = ["RequestLimit"]


class RequestLimit:
    """At most ``per_minute`` requests per realm in any 60 seconds; the rest are refused."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.allowed = 0
        self.refused = 0
        self._recent: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()

    def take(self, realm: str) -> bool:
        """Count a request for ``realm``; False when it is over the limit (answer 429)."""
        with self._lock:
            now = time.monotonic()
            recent = self._recent[realm]
            while recent and now - recent[0] >= 60:
                recent.popleft()
            if len(recent) >= self.per_minute:
                self.refused += 1
                return False
            recent.append(now)
            self.allowed += 1
            return True
