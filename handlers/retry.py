"""Running a handler again when another writer got there first (optimistic concurrency).

A unit of work that lost a race (a portfolio saved by someone else since it was read,
a receivable claimed by a concurrent cut) committed nothing, so the whole handler runs
again on fresh reads: bounded, with jittered backoff. The inbox makes the rerun exactly
once in effect; a race lost every time surfaces as ConflictError, which the broker's
consumers treat as transient (redelivered later).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from handlers.ports import ConflictError

__all__ = ["ATTEMPTS", "retrying"]

log = logging.getLogger("forwardflow.handlers")

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPTS = 12
"""Runs of one unit of work before a conflict is given up (and left to the broker)."""

_BASE_S = 0.005
_CAP_S = 0.5


def _pause(attempt: int) -> float:
    """Full jitter: uniform in [0, min(cap, base × 2^attempt)] (AWS's advice for contention)."""
    return random.uniform(0, min(_CAP_S, _BASE_S * 2**attempt))  # noqa: S311 - jitter, not a secret


def retrying(handler: Callable[P, T], attempts: int = ATTEMPTS) -> Callable[P, T]:
    """``handler``, run again from the start while its unit of work conflicts."""

    @wraps(handler)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, attempts + 1):
            try:
                return handler(*args, **kwargs)
            except ConflictError as conflict:
                if attempt == attempts:
                    raise
                log.debug("conflict handler=%s attempt=%d: %s", handler.__name__, attempt, conflict)
                time.sleep(_pause(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    return run
