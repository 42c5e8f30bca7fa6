"""A unit of work that lost a race runs again from the start; one that always loses gives up."""

from __future__ import annotations

import pytest

from handlers.ports import ConflictError
from handlers.retry import ATTEMPTS, retrying


def test_a_conflict_runs_the_whole_handler_again() -> None:
    runs: list[int] = []

    def handler(value: int) -> int:
        runs.append(value)
        if len(runs) < 3:
            raise ConflictError("a concurrent save")
        return value * 2

    assert retrying(handler)(21) == 42
    assert runs == [21, 21, 21]


def test_a_conflict_every_time_is_given_up_after_the_attempts() -> None:
    runs: list[None] = []

    def handler() -> None:
        runs.append(None)
        raise ConflictError("always")

    with pytest.raises(ConflictError, match="always"):
        retrying(handler, attempts=4)()
    assert len(runs) == 4
    assert ATTEMPTS >= 5


def test_other_errors_are_not_retried() -> None:
    runs: list[None] = []

    def handler() -> None:
        runs.append(None)
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        retrying(handler)()
    assert len(runs) == 1
