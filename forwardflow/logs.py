"""Logging set-up: console lines or one JSON object per line, ids only, never personal data.

Handlers log event ids, outcomes and counts; they never log a debtor's name, tax id,
address, e-mail or any token (the demo's log is scanned for them in a test).

Warnings and errors are rate-limited per message template: a flood of bad requests
(each logging "invalid HTTP request" or "webhook refused") writes a few lines and then
one summary a minute with the count, not hundreds of megabytes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["JsonFormatter", "RepeatLimiter", "configure_logging"]

_QUIET = ("paramiko", "httpx", "alembic", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` (+ ``error`` when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class RepeatLimiter(logging.Filter):
    """Let at most ``burst`` records of one warning/error template through per ``window_s``.

    Records are grouped by logger and message template (not the filled-in message, so
    "refused from 10.0.0.1" and "… 10.0.0.2" are one kind). When a window ends with some
    suppressed, the next record of that kind carries the count. Below WARNING nothing is
    limited: per-event INFO lines are the audit trail.
    """

    def __init__(self, burst: int = 10, window_s: float = 60.0) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._seen: dict[tuple[str, str], tuple[float, int, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            began, passed, dropped = self._seen.get(key, (now, 0, 0))
            if now - began >= self.window_s:
                if dropped:
                    record.msg = f"{record.msg} [{dropped} similar suppressed in the last minute]"
                self._seen[key] = (now, 1, 0)
                return True
            if passed < self.burst:
                self._seen[key] = (began, passed + 1, dropped)
                return True
            self._seen[key] = (began, passed, dropped + 1)
            if len(self._seen) > 10_000:  # many distinct templates: forget the oldest
                self._seen = dict(list(self._seen.items())[-5_000:])
            return False


def configure_logging(level: str = "INFO", fmt: str = "console", file: Path | None = None) -> None:
    """Configure the root logger once for a forwardflow process."""
    handler: logging.Handler = logging.FileHandler(file) if file else logging.StreamHandler()
    handler.addFilter(RepeatLimiter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
