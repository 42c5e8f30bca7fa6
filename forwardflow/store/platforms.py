"""What forwardflow keeps per platform company: sealed tokens, checkpoints, payment links,
postings and connect links — one set of tables for every platform, keyed by its name.

Repositories over one connection (the unit of work's); nothing here knows a platform's
API. Tokens arrive and leave sealed: the wiring seals and opens them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update

from forwardflow.store.tables import (
    connect_links,
    platform_checkpoints,
    platform_companies,
    platform_payment_links,
    platform_postings,
)

__all__ = [
    "Company",
    "ConnectLink",
    "Posting",
    "PostingState",
    "SqlCheckpoints",
    "SqlCompanies",
    "SqlConnectLinks",
    "SqlPaymentLinks",
    "SqlPostings",
]

_IN_CHUNK = 500


def aware(when: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite returns naive ones)."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _put_row(
    connection: Connection, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    """Replace the row with this key (delete, insert): works on every database."""
    connection.execute(
        delete(table).where(*(table.c[name] == value for name, value in key.items()))
    )
    connection.execute(table.insert().values(**key, **values))


# ---------------------------------------------------------------------- companies
@dataclass(frozen=True, slots=True)
class Company:
    """A connected company and its token health (never its tokens)."""

    platform: str
    company_id: str
    tenant: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    connected_at: datetime


class SqlCompanies:
    """Connected companies of every platform, their tokens sealed."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _key(self, platform: str, company_id: str) -> Any:
        c = platform_companies.c
        return (c.platform == platform) & (c.company_id == company_id)

    def sealed(self, platform: str, company_id: str, *, lock: bool = False) -> bytes | None:
        """The company's sealed tokens (``lock``: held until the transaction ends)."""
        statement = select(platform_companies.c.tokens).where(self._key(platform, company_id))
        row = self._connection.execute(statement.with_for_update() if lock else statement).first()
        return bytes(row.tokens) if row else None

    def put_tokens(
        self,
        platform: str,
        company_id: str,
        sealed: bytes,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
    ) -> None:
        """Replace a connected company's tokens."""
        self._connection.execute(
            update(platform_companies)
            .where(self._key(platform, company_id))
            .values(
                tokens=sealed,
                access_expires_at=access_expires_at,
                refresh_expires_at=refresh_expires_at,
                updated_at=datetime.now(UTC),
            )
        )

    def connect(
        self,
        platform: str,
        company_id: str,
        tenant: str,
        sealed: bytes,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
    ) -> None:
        """Store a newly connected company (or reconnect it)."""
        _put_row(
            self._connection,
            platform_companies,
            {"platform": platform, "company_id": company_id},
            {
                "tenant": tenant,
                "tokens": sealed,
                "access_expires_at": access_expires_at,
                "refresh_expires_at": refresh_expires_at,
            },
        )

    def forget(self, platform: str, company_id: str) -> None:
        """Drop a disconnected company's tokens."""
        self._connection.execute(delete(platform_companies).where(self._key(platform, company_id)))

    def list(self, platform: str | None = None) -> list[Company]:
        """Connected companies (of one platform), by platform and id."""
        c = platform_companies.c
        statement = select(
            c.platform,
            c.company_id,
            c.tenant,
            c.access_expires_at,
            c.refresh_expires_at,
            c.connected_at,
        ).order_by(c.platform, c.company_id)
        if platform is not None:
            statement = statement.where(c.platform == platform)
        return [
            Company(
                row.platform,
                row.company_id,
                row.tenant,
                aware(row.access_expires_at),
                aware(row.refresh_expires_at),
                aware(row.connected_at),
            )
            for row in self._connection.execute(statement)
        ]

    def connected_among(self, platform: str, company_ids: Iterable[str]) -> set[str]:
        """Which of these companies are connected (one query per 500 ids)."""
        names, found = sorted(set(company_ids)), set[str]()
        for start in range(0, len(names), _IN_CHUNK):
            rows = self._connection.execute(
                select(platform_companies.c.company_id).where(
                    platform_companies.c.platform == platform,
                    platform_companies.c.company_id.in_(names[start : start + _IN_CHUNK]),
                )
            )
            found.update(row.company_id for row in rows)
        return found


# ---------------------------------------------------------------------- catch-up memory
class SqlCheckpoints:
    """Change-data-capture checkpoints per platform, company and entity."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, platform: str, company_id: str, entity: str) -> datetime | None:
        """Everything changed before this was published."""
        c = platform_checkpoints.c
        row = self._connection.execute(
            select(c.changed_since).where(
                c.platform == platform, c.company_id == company_id, c.entity == entity
            )
        ).first()
        return aware(row.changed_since) if row else None

    def set(self, platform: str, company_id: str, entity: str, since: datetime) -> None:
        """Move the checkpoint (after publishing)."""
        key = {"platform": platform, "company_id": company_id, "entity": entity}
        _put_row(self._connection, platform_checkpoints, key, {"changed_since": since})


class SqlPaymentLinks:
    """Which invoices each payment paid, as last read."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def invoices(self, platform: str, company_id: str, payment_id: str) -> set[str]:
        """The invoices the payment was last seen paying."""
        c = platform_payment_links.c
        row = self._connection.execute(
            select(c.invoice_ids).where(
                c.platform == platform, c.company_id == company_id, c.payment_id == payment_id
            )
        ).first()
        return set(row.invoice_ids) if row else set()

    def remember(
        self, platform: str, company_id: str, payment_id: str, invoice_ids: set[str]
    ) -> None:
        """Record what the payment pays now."""
        key = {"platform": platform, "company_id": company_id, "payment_id": payment_id}
        _put_row(
            self._connection, platform_payment_links, key, {"invoice_ids": sorted(invoice_ids)}
        )


# ---------------------------------------------------------------------- postings
class PostingState:
    """Where a journal entry stands on the platform."""

    POSTED = "posted"
    APPLIED = "applied"
    BLOCKED = "blocked"
    UNAPPLIED = "unapplied"

    PROBLEMS = (BLOCKED, UNAPPLIED)


@dataclass(frozen=True, slots=True)
class Posting:
    """One entry on one company: where it stands, its platform id, what went wrong."""

    platform: str
    company_id: str
    entry_id: str
    portfolio_id: str
    state: str
    platform_id: str | None
    problem: str | None
    attempts: int
    entry: dict[str, Any]


def _posting(row: Any) -> Posting:
    return Posting(
        row.platform,
        row.company_id,
        row.entry_id,
        row.portfolio_id,
        row.state,
        row.platform_id,
        row.problem,
        row.attempts,
        dict(row.entry),
    )


class SqlPostings:
    """Journal entries posted to platforms, or held until the company is re-authorised."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _key(self, platform: str, company_id: str, entry_id: str) -> Any:
        c = platform_postings.c
        return (c.platform == platform) & (c.company_id == company_id) & (c.entry_id == entry_id)

    def record(
        self,
        platform: str,
        company_id: str,
        entry: Mapping[str, Any],
        state: str,
        *,
        platform_id: str | None = None,
        problem: str | None = None,
    ) -> int:
        """Record what happened to an entry (its data as posted); how many attempts before."""
        entry_id = str(entry["entry_id"])
        key = self._key(platform, company_id, entry_id)
        held = self._connection.execute(
            select(platform_postings.c.attempts).where(key)
        ).scalar_one_or_none()
        self._connection.execute(delete(platform_postings).where(key))
        self._connection.execute(
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
        return int(held or 0)

    def mark(
        self,
        platform: str,
        company_id: str,
        entry_id: str,
        state: str,
        problem: str | None = None,
    ) -> None:
        """Move an entry to ``state`` (applied, or unapplied with the problem)."""
        self._connection.execute(
            update(platform_postings)
            .where(self._key(platform, company_id, entry_id))
            .values(state=state, problem=problem, updated_at=datetime.now(UTC))
        )

    def of_portfolio(self, platform: str, company_id: str, portfolio_id: str) -> list[Posting]:
        """Every entry of a portfolio on a company, oldest first."""
        c = platform_postings.c
        rows = self._connection.execute(
            select(platform_postings)
            .where(
                c.platform == platform,
                c.company_id == company_id,
                c.portfolio_id == portfolio_id,
            )
            .order_by(c.updated_at, c.entry_id)
        )
        return [_posting(row) for row in rows]

    def problems(self, platform: str | None = None, company_id: str | None = None) -> list[Posting]:
        """Entries not in the books, or not applied to their invoices."""
        c = platform_postings.c
        statement = (
            select(platform_postings)
            .where(c.state.in_(PostingState.PROBLEMS))
            .order_by(c.platform, c.company_id, c.entry_id)
        )
        if platform is not None:
            statement = statement.where(c.platform == platform)
        if company_id is not None:
            statement = statement.where(c.company_id == company_id)
        return [_posting(row) for row in self._connection.execute(statement)]


# ---------------------------------------------------------------------- connect links
@dataclass(frozen=True, slots=True)
class ConnectLink:
    """A link an operator minted to connect (or reconnect) a company."""

    id: str
    platform: str
    company_id: str | None
    expires_at: datetime
    opened_at: datetime | None
    browser_digest: str | None
    finished_at: datetime | None


def _link(row: Any) -> ConnectLink:
    return ConnectLink(
        row.id,
        row.platform,
        row.company_id,
        aware(row.expires_at),
        aware(row.opened_at) if row.opened_at else None,
        row.browser_digest,
        aware(row.finished_at) if row.finished_at else None,
    )


class SqlConnectLinks:
    """Single-use connect links and the OAuth state bound to each."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self, link_id: str, platform: str, company_id: str | None, expires_at: datetime
    ) -> None:
        """Record a new link."""
        self._connection.execute(
            connect_links.insert().values(
                id=link_id, platform=platform, company_id=company_id, expires_at=expires_at
            )
        )

    def get(self, link_id: str) -> ConnectLink | None:
        """The link, or None."""
        row = self._connection.execute(
            select(connect_links).where(connect_links.c.id == link_id)
        ).first()
        return _link(row) if row else None

    def by_state(self, state_digest: str) -> ConnectLink | None:
        """The link whose OAuth state has this digest, or None."""
        row = self._connection.execute(
            select(connect_links).where(connect_links.c.state_digest == state_digest)
        ).first()
        return _link(row) if row else None

    def open(self, link_id: str, when: datetime, state_digest: str, browser_digest: str) -> bool:
        """Mark the link opened (once): False if it was opened before."""
        opened = self._connection.execute(
            update(connect_links)
            .where(connect_links.c.id == link_id, connect_links.c.opened_at.is_(None))
            .values(opened_at=when, state_digest=state_digest, browser_digest=browser_digest)
        )
        return opened.rowcount == 1

    def finish(self, link_id: str, when: datetime) -> bool:
        """Close the flow (once): False if it was finished before."""
        closed = self._connection.execute(
            update(connect_links)
            .where(connect_links.c.id == link_id, connect_links.c.finished_at.is_(None))
            .values(finished_at=when, outcome="callback received")
        )
        return closed.rowcount == 1

    def record_outcome(self, link_id: str, outcome: str) -> None:
        """What became of a finished flow (connected, or why not)."""
        self._connection.execute(
            update(connect_links).where(connect_links.c.id == link_id).values(outcome=outcome[:300])
        )
