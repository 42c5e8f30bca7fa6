"""What forwardflow posted to a company's books, what it could not post, and why.

Each journal entry sent to a platform gets a row: ``posted`` (its invoice application
still to make), ``applied``, ``blocked`` (not posted: the company's authorisation is gone,
or the platform refused it) or ``unapplied`` (posted, the application failed). Blocked and
unapplied rows are problems: ``forwardflow status`` and ``/readyz`` name them until they
are done, and re-authorising the company puts them back on the broker (through the
outbox, so nothing is lost if forwardflow stops in between). Written once for every
platform: the platform itself only posts an entry and applies entries (the seam).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from connectors.platform import AuthorizationError, PlatformError, Posted, TransientPlatformError
from debtsale.codec import decode_event
from debtsale.errors import DomainError
from debtsale.events import JournalEntryRequested
from debtsale.reports import as_data
from forwardflow.bootstrap import Forwardflow
from forwardflow.store.platforms import Posting, PostingState
from forwardflow.store.uow import SqlUnitOfWork
from forwardflow.wired import WiredPlatform

__all__ = [
    "APPLY_EVENT",
    "ENTRY_EVENT",
    "Posting",
    "PostingState",
    "apply_posted_event",
    "post_journal_event",
    "posting_problems",
    "postings_of",
    "record",
    "requeue",
]

log = logging.getLogger("forwardflow.postings")

ENTRY_EVENT = "JournalEntryRequested"
APPLY_EVENT = "JournalEntryPosted"
"""Published (through the outbox) once an entry with receivable lines is in the books."""


def _queue(
    app: Forwardflow,
    uow: SqlUnitOfWork,
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
    with app.unit_of_work() as uow:
        before = uow.postings.record(
            platform, company_id, entry, state, platform_id=platform_id, problem=problem
        )
        if state == PostingState.POSTED:
            _queue(app, uow, platform, company_id, entry, APPLY_EVENT, before)
        uow.commit()


def _mark(
    app: Forwardflow,
    platform: str,
    company_id: str,
    entry_id: str,
    state: str,
    problem: str | None = None,
) -> None:
    with app.unit_of_work() as uow:
        uow.postings.mark(platform, company_id, entry_id, state, problem)
        uow.commit()


def postings_of(
    app: Forwardflow, platform: str, company_id: str, portfolio_id: str
) -> list[Posting]:
    """Every entry of a portfolio on a company, oldest first."""
    with app.unit_of_work() as uow:
        return uow.postings.of_portfolio(platform, company_id, portfolio_id)


def posting_problems(app: Forwardflow) -> list[str]:
    """One line per entry not in the books (or not applied), saying what is wrong."""
    with app.unit_of_work() as uow:
        rows = uow.postings.problems()
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
        rows = uow.postings.problems(platform, company_id)
        for row in rows:
            name = ENTRY_EVENT if row.state == PostingState.BLOCKED else APPLY_EVENT
            _queue(app, uow, platform, company_id, row.entry, name, row.attempts)
        uow.commit()
    return len(rows)


def _entry_of(body: bytes) -> JournalEntryRequested:
    """The entry a JournalEntryRequested event carries; anything else is malformed."""
    event = decode_event(body)
    if not isinstance(event, JournalEntryRequested):
        raise DomainError("event.shape", f"not a {ENTRY_EVENT} event: {type(event).__name__}")
    return event


async def post_journal_event(app: Forwardflow, body: bytes) -> tuple[bool, str]:
    """Post a JournalEntryRequested event to its company's books; (posted, event id).

    Entries of portfolios whose ledger is no platform's company are not posted. One the
    company's authorisation stops (refresh refused, still unauthorised, disconnected) is
    held, not dead-lettered: recorded as blocked, shown by ``status`` and ``/readyz``, and
    posted again when the company is re-authorised. A posted entry is recorded, and one
    with receivable lines queued to be applied to its invoices.
    """
    entry = _entry_of(body)
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(entry.portfolio_id)
    found = app.platform_of(portfolio.tenant) if portfolio else None
    if found is None:
        return False, entry.event_id
    wired, company = found
    data = {**as_data(entry), "portfolio_id": entry.portfolio_id}
    try:
        platform_id, posted = await asyncio.to_thread(
            wired.platform.post_entry, wired, company, entry
        )
    except TransientPlatformError:
        raise
    except PlatformError as error:
        await asyncio.to_thread(
            record, app, wired.name, company, data, PostingState.BLOCKED, problem=str(error)
        )
        if isinstance(error, AuthorizationError):
            log.warning(
                "journal entry held entry=%s company=%s: not authorised", entry.entry_id, company
            )
            return False, entry.event_id
        raise DomainError(f"{wired.name}.refused", str(error)) from None
    state = PostingState.POSTED if entry.receivables else PostingState.APPLIED
    await asyncio.to_thread(record, app, wired.name, company, data, state, platform_id=platform_id)
    log.info("journal entry entry=%s id=%s posted=%s", entry.entry_id, platform_id, posted)
    return True, entry.event_id


def _posted(app: Forwardflow, wired: WiredPlatform, company: str, portfolio: str) -> list[Posted]:
    return [
        Posted(p.platform_id, str(p.entry["entry_date"]), p.entry.get("receivables", []))
        for p in postings_of(app, wired.name, company, portfolio)
        if p.platform_id is not None and p.state != PostingState.BLOCKED
    ]


def _apply_data(body: bytes) -> dict[str, Any]:
    try:
        data = dict(json.loads(body)["data"])
    except (ValueError, KeyError, TypeError) as error:
        raise DomainError("event.shape", f"not a {APPLY_EVENT} event: {error}") from None
    if not data.get("entry_id") or not data.get("portfolio_id"):
        raise DomainError("event.shape", f"not a {APPLY_EVENT} event: no entry_id or portfolio_id")
    return data


async def apply_posted_event(app: Forwardflow, body: bytes) -> tuple[bool, str]:
    """Apply a posted entry's receivable lines to the invoices they concern; (done, id).

    Each platform applies entries its own way (QuickBooks: one zero-total payment per
    portfolio and customer, rewritten from all of forwardflow's entries for them). Held
    like a posting when the company is not authorised.
    """
    data = _apply_data(body)
    entry_id, portfolio_id = str(data["entry_id"]), str(data["portfolio_id"])
    company = str(data.get("company_id", ""))
    event_id = f"{APPLY_EVENT}:{portfolio_id}:{entry_id}"
    if data.get("platform") not in app.platforms or not company:
        return False, event_id
    wired = app.platform(str(data["platform"]))
    customers = [str(c) for c in data.get("customers", [])]

    def apply() -> Any:
        posted = _posted(app, wired, company, portfolio_id)
        return wired.platform.apply_entries(wired, company, portfolio_id, customers, posted)

    try:
        done = await asyncio.to_thread(apply)
    except TransientPlatformError:
        raise
    except PlatformError as error:
        await asyncio.to_thread(
            _mark, app, wired.name, company, entry_id, PostingState.UNAPPLIED, str(error)
        )
        if isinstance(error, AuthorizationError):
            log.warning("application held entry=%s company=%s: not authorised", entry_id, company)
            return False, event_id
        raise DomainError(f"{wired.name}.refused", str(error)) from None
    if done.refused:  # kept as a problem; the next entry for the customer tries again
        problem = "; ".join(f"customer {c}: {why}" for c, why in sorted(done.refused.items()))
        await asyncio.to_thread(
            _mark, app, wired.name, company, entry_id, PostingState.UNAPPLIED, problem
        )
        log.warning("application refused entry=%s company=%s", entry_id, company)
        return False, event_id
    await asyncio.to_thread(_mark, app, wired.name, company, entry_id, PostingState.APPLIED)
    log.info(
        "applied entry=%s company=%s applications=%d waiting=%d",
        entry_id,
        company,
        len(done.made),
        len(done.waiting),
    )
    return True, event_id
