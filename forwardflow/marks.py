"""When each recurring operation last worked and last failed, kept in the store.

The loops (catch-up per platform company, buyers' inbox polls, the scheduler's empty
tranches) record each round's outcome here, so readiness, ``/metrics`` and
``forwardflow status`` in any process see the same thing: a failure only in the log is
invisible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from forwardflow.bootstrap import Forwardflow
from forwardflow.store.tables import health_marks

__all__ = ["Mark", "marks", "record"]

_PROBLEM_CHARS = 500


@dataclass(frozen=True, slots=True)
class Mark:
    """One operation's last success and last failure (with why)."""

    name: str
    ok_at: datetime | None
    failed_at: datetime | None
    problem: str | None

    @property
    def failing(self) -> bool:
        """True when the last outcome was a failure."""
        if self.failed_at is None:
            return False
        return self.ok_at is None or _aware(self.failed_at) >= _aware(self.ok_at)

    @property
    def since(self) -> datetime | None:
        """When the current outcome was recorded."""
        return self.failed_at if self.failing else self.ok_at


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record(app: Forwardflow, name: str, problem: str | None, now: datetime | None = None) -> None:
    """Record an outcome of ``name``: None for success, else what went wrong."""
    now = now or datetime.now(UTC)
    values = (
        {"ok_at": now}
        if problem is None
        else {"failed_at": now, "problem": problem.strip()[:_PROBLEM_CHARS]}
    )
    with app.unit_of_work() as uow:
        done = uow.connection.execute(
            update(health_marks).where(health_marks.c.name == name).values(**values)
        )
        if done.rowcount == 0:
            uow.connection.execute(health_marks.insert().values(name=name, **values))
        uow.commit()


def marks(app: Forwardflow, prefix: str = "") -> list[Mark]:
    """Every recorded operation whose name starts with ``prefix``, by name."""
    with app.unit_of_work() as uow:
        rows = uow.connection.execute(
            select(health_marks)
            .where(health_marks.c.name.startswith(prefix, autoescape=True))
            .order_by(health_marks.c.name)
        ).all()
    return [
        Mark(
            row.name,
            _aware(row.ok_at) if row.ok_at else None,
            _aware(row.failed_at) if row.failed_at else None,
            row.problem,
        )
        for row in rows
    ]
