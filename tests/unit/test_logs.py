"""Logs under a flood: a repeated warning is written a few times, then counted."""

from __future__ import annotations

import logging

from forwardflow.logs import RepeatLimiter


def _record(message: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", level, __file__, 1, message, args, None)


def test_a_repeated_warning_passes_a_few_times_then_is_counted_once_a_window() -> None:
    limiter = RepeatLimiter(burst=5, window_s=60)
    passed = [limiter.filter(_record("refused from %s", f"10.0.0.{n}")) for n in range(20_000)]
    assert sum(passed) == 5
    limiter.window_s = 0  # the window has ended
    summary = _record("refused from %s", "10.0.0.9")
    assert limiter.filter(summary)
    assert "19995 similar suppressed" in summary.getMessage()


def test_other_messages_and_info_lines_are_not_limited() -> None:
    limiter = RepeatLimiter(burst=1, window_s=60)
    assert limiter.filter(_record("one"))
    assert limiter.filter(_record("two"))
    assert all(limiter.filter(_record("handled %s", n, level=logging.INFO)) for n in range(100))
