"""Racing writers: several processes (or threads) start a unit of work at the same instant.

Concurrency tests need real contention, not a sequence: each racer is a warmed-up worker
(spawned once, modules imported, its engine connected) that waits on a shared barrier and
then runs one command or ledger change through the normal handlers and unit of work.
Work travels in its wire form (``debtsale.codec``), so processes share no objects.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine

from debtsale.changes import LedgerChange
from debtsale.codec import decode, encode
from debtsale.commands import Command
from debtsale.errors import DomainError
from forwardflow.store import SqlUnitOfWork, make_engine
from handlers.registry import LEDGER_HANDLER, handle_command

__all__ = ["Racers", "Work", "apply_change", "command_work", "ledger_work", "racers", "run_command"]

Mode = Literal["processes", "threads"]

_BARRIER: Any = None
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(db_url: str) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(db_url)
        if engine is None:
            engine = _ENGINES[db_url] = make_engine(db_url)
        return engine


def _set_barrier(barrier: Any) -> None:
    global _BARRIER  # one barrier per worker process, set once when it is spawned
    _BARRIER = barrier


def run_command(db_url: str, envelope: dict[str, Any]) -> str:
    """Apply one command through the registry; the outcome, or ``refused:<rule>``."""
    command = decode(envelope)
    try:
        return handle_command(SqlUnitOfWork(_engine(db_url)), command).value
    except DomainError as refused:
        return f"refused:{refused.rule}"


def apply_change(db_url: str, tenant: str, envelope: dict[str, Any]) -> str:
    """Apply one ledger change through the ledger handler; the outcome."""
    change = decode(envelope)
    return str(LEDGER_HANDLER(SqlUnitOfWork(_engine(db_url)), tenant, change).value)


def _idle() -> str:
    return "idle"


def _start_then(barrier: Any, work: Callable[..., str], args: tuple[Any, ...]) -> str:
    (barrier or _BARRIER).wait(timeout=60)
    return work(*args)


def _warm(db_url: str) -> str:
    with _engine(db_url).connect():
        return "warm"


@dataclass(frozen=True, slots=True)
class Work:
    """One racer's part: a module-level function and its (picklable) arguments."""

    call: Callable[..., str]
    args: tuple[Any, ...]


def command_work(db_url: str, command: Command) -> Work:
    """A racer's part that applies ``command``."""
    return Work(run_command, (db_url, encode(command)))


def ledger_work(db_url: str, tenant: str, change: LedgerChange) -> Work:
    """A racer's part that applies ``change`` for ``tenant``."""
    return Work(apply_change, (db_url, tenant, encode(change)))


class Racers:
    """``count`` workers that start each round's work together, as processes or threads."""

    def __init__(self, count: int, mode: Mode = "processes") -> None:
        self.count = count
        self.mode = mode
        self._executors: list[Executor] = []
        self._barrier: Any = None

    def __enter__(self) -> Racers:
        if self.mode == "processes":
            context = multiprocessing.get_context("spawn")
            self._barrier = context.Barrier(self.count)
            self._executors = [
                ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=context,
                    initializer=_set_barrier,
                    initargs=(self._barrier,),
                )
                for _ in range(self.count)
            ]
        else:
            self._barrier = threading.Barrier(self.count)
            self._executors = [ThreadPoolExecutor(max_workers=1) for _ in range(self.count)]
        return self

    def __exit__(self, *_: object) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)

    def warm(self, db_url: str) -> None:
        """Import everything and connect each worker's engine before the first round."""
        for future in [executor.submit(_warm, db_url) for executor in self._executors]:
            future.result(timeout=120)

    def race(self, works: Sequence[Work]) -> list[str]:
        """Run up to ``count`` works at the same instant; their results, in order.

        A racer's exception is returned as ``error:<type>:<message>``.
        """
        if len(works) > self.count:
            raise ValueError(f"{len(works)} works for {self.count} racers")
        barrier = None if self.mode == "processes" else self._barrier
        padded = [*works, *(Work(_idle, ()) for _ in range(self.count - len(works)))]
        futures: list[Future[str]] = [
            executor.submit(_start_then, barrier, work.call, work.args)
            for executor, work in zip(self._executors, padded, strict=True)
        ]
        return [_result(future) for future in futures][: len(works)]


def _result(future: Future[str]) -> str:
    try:
        return future.result(timeout=120)
    except Exception as error:  # the caller asserts on it, with the reason in view
        return f"error:{type(error).__name__}:{error}"


@contextmanager
def racers(count: int, mode: Mode, db_url: str) -> Iterator[Racers]:
    """Started and warmed racers for ``db_url``, shut down afterwards."""
    with Racers(count, mode) as started:
        started.warm(db_url)
        yield started
