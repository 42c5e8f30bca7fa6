"""Logging set-up: console lines or one JSON object per line, ids only, never personal data.

Handlers log event ids, outcomes and counts; they never log a debtor's name, tax id,
address, e-mail or any token (the demo's log is scanned for them in a test).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["JsonFormatter", "configure_logging"]

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


def configure_logging(level: str = "INFO", fmt: str = "console", file: Path | None = None) -> None:
    """Configure the root logger once for a forwardflow process."""
    handler: logging.Handler = logging.FileHandler(file) if file else logging.StreamHandler()
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
