"""What forwardflow posted to a company's books, what it could not post, and why.

Each journal entry sent to a platform gets a row: ``posted`` (its invoice application
still to make), ``applied``, ``blocked`` (not posted: the company's authorisation is gone,
or the platform refused it) or ``unapplied`` (posted, the application failed). Blocked and
unapplied rows are problems: ``forwardflow status`` and ``/readyz`` name them until they
are done, and re-authorising the company puts them back on the broker (through the
outbox, so nothing is lost if forwardflow stops in between).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from forwardflow.bootstrap import Forwardflow
from forwardflow.store.tables import platform_postings

__all__ = [
    "APPLY_EVENT",
    "ENTRY_EVENT",
    "Posting",
    "PostingState",
    "mark",
    "posting_problems",
    "postings_of",
    "record",
    "requeue",
]

ENTRY_EVENT = "JournalEntryRequested"
APPLY_EVENT = "JournalEntryPosted"
"""Published (through the outbox) once an entry with receivable lines is in the books."""


class PostingState:
    """Where an entry stands on the platform."""

    POSTED = "posted"
    APPLIED = "applied"
    BLOCKED = "blocked"
    UNAPPLIED = "unapplied"


@dataclass(frozen=True, slots=True)
class Posting:
    """One row: the entry, where it stands, its platform id and what went wrong."""

    company_id: str
    entry_id: str
    portfolio_id: str
    state: str
    platform_id: str | None
    problem: str | None
    attempts: int
    entry: dict[str, Any]


def _key(platform: str, company_id: str, entry_id: str) -> Any:
    return (
        (platform_postings.c.platform == platform)
        & (platform_postings.c.company_id == company_id)
        & (platform_postings.c.entry_id == entry_id)
    )


def record(
    app: Forwardflow,
    platform: str,
    company_id: str,
    entry: Mapping[str, Any],
    state: str,
    *,
    platform_id: str | None = None,
    problem: str | None = None,
) -> None:
    """Record what happened to an entry; a posted one with receivable lines is queued to be
    applied (``APPLY_EVENT``) in the same commit."""
    entry_id = str(entry["entry_id"])
    key = _key(platform, company_id, entry_id)
    with app.unit_of_work() as uow:
        held = uow.connection.execute(
            select(platform_postings.c.attempts).where(key)
        ).scalar_one_or_none()
        uow.connection.execute(delete(platform_postings).where(key))
        uow.connection.execute(
            platform_postings.insert().values(
                platform=platform,
                company_id=company_id,
                entry_id=entry_id,
                portfolio_id=str(entry["portfolio_id"]),
                platform_id=platform_id,
                state=state,
                problem=problem,
                attempts=(held or 0) + 1,
                entry=dict(entry),
                updated_at=datetime.now(UTC),
            )
        )
        if state == PostingState.POSTED:
            _queue(app, uow, platform, company_id, entry, APPLY_EVENT, held or 0)
        uow.commit()


def _queue(
    app: Forwardflow,
    uow: Any,
    platform: str,
    company_id: str,
    entry: Mapping[str, Any],
    name: str,
    attempt: int,
) -> None:
    """Put an entry (back) on the broker through the outbox, under an id of its own."""
    entry_id, portfolio_id = str(entry["entry_id"]), str(entry["portfolio_id"])
    data = (
        dict(entry)
        if name == ENTRY_EVENT
        else {
            "platform": platform,
            "company_id": company_id,
            "portfolio_id": portfolio_id,
            "entry_id": entry_id,
            "customers": sorted({str(row[0]) for row in entry.get("receivables", [])}),
        }
    )
    uow.outbox.add(
        event_id=f"{name}:{portfolio_id}:{entry_id}:{platform}:{company_id}:{attempt}",
        subject=app.topology.event_subject(name),
        payload={"type": name, "data": data},
        headers={"ff-type": name},
    )


def mark(
    app: Forwardflow,
    platform: str,
    company_id: str,
    entry_id: str,
    state: str,
    problem: str | None = None,
) -> None:
    """Move an entry to ``state`` (applied, or unapplied with the problem)."""
    with app.unit_of_work() as uow:
        uow.connection.execute(
            update(platform_postings)
            .where(_key(platform, company_id, entry_id))
            .values(state=state, problem=problem, updated_at=datetime.now(UTC))
        )
        uow.commit()


def _posting(row: Any) -> Posting:
    return Posting(
        row.company_id,
        row.entry_id,
        row.portfolio_id,
        row.state,
        row.platform_id,
        row.problem,
        row.attempts,
        dict(row.entry),
    )


def postings_of(
    app: Forwardflow, platform: str, company_id: str, portfolio_id: str
) -> list[Posting]:
    """Every entry of a portfolio on a company, oldest first."""
    with app.unit_of_work() as uow:
        rows = uow.connection.execute(
            select(platform_postings)
            .where(
                platform_postings.c.platform == platform,
                platform_postings.c.company_id == company_id,
                platform_postings.c.portfolio_id == portfolio_id,
            )
            .order_by(platform_postings.c.updated_at, platform_postings.c.entry_id)
        )
        return [_posting(row) for row in rows]


def posting_problems(app: Forwardflow) -> list[str]:
    """One line per entry not in the books (or not applied), saying what is wrong."""
    with app.unit_of_work() as uow:
        rows = uow.connection.execute(
            select(platform_postings)
            .where(platform_postings.c.state.in_([PostingState.BLOCKED, PostingState.UNAPPLIED]))
            .order_by(platform_postings.c.company_id, platform_postings.c.entry_id)
        )
        return [
            f"{row.platform} {row.company_id}: journal entry {row.entry_id} "
            f"{'not posted' if row.state == PostingState.BLOCKED else 'not applied'} "
            f"({row.attempts} attempt(s)): {row.problem or 'unknown'}"
            for row in rows
        ]


def requeue(app: Forwardflow, platform: str, company_id: str) -> int:
    """After re-authorisation: blocked entries are posted again, unapplied ones applied.

    They go back through the outbox under new ids (the broker's duplicate window would
    drop the old ones); posting looks an entry up by its number first, so nothing is ever
    posted twice. Returns how many were queued.
    """
    with app.unit_of_work() as uow:
        rows = list(
            uow.connection.execute(
                select(platform_postings).where(
                    platform_postings.c.platform == platform,
                    platform_postings.c.company_id == company_id,
                    platform_postings.c.state.in_([PostingState.BLOCKED, PostingState.UNAPPLIED]),
                )
            )
        )
        for row in rows:
            name = ENTRY_EVENT if row.state == PostingState.BLOCKED else APPLY_EVENT
            _queue(app, uow, platform, company_id, dict(row.entry), name, row.attempts)
        uow.commit()
    return len(rows)
