"""QuickBooks wired in: tokens sealed in the store, payment links, the notice fetcher.

The connector knows QuickBooks; this module gives it forwardflow's store, settings and
broker: which companies are connected, their sealed tokens, and where notices and
ledger events go.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.nats import NatsBroker
from intuitlib.client import AuthClient
from sqlalchemy import Table, delete, select, update

from connectors.quickbooks.cdc import ENTITIES as CDC_ENTITIES
from connectors.quickbooks.cdc import CatchUp, backfill, catch_up
from connectors.quickbooks.client import (
    AuthorizationError,
    PlatformError,
    QuickBooksApi,
    Tokens,
    TransientPlatformError,
)
from connectors.quickbooks.fetch import changes_for_notice, tenant_of
from connectors.quickbooks.schemas import ChangeNotice
from connectors.quickbooks.writeback import Applied, Posted, apply_entries, post_journal_entry
from debtsale.changes import LedgerChange
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.envelope import EVENT_ID, MSG_ID, ledger_message
from forwardflow.postings import APPLY_EVENT, ENTRY_EVENT, PostingState, postings_of, requeue
from forwardflow.postings import mark as mark_posting
from forwardflow.postings import record as record_posting
from forwardflow.secrets import secret_box
from forwardflow.store.tables import (
    platform_checkpoints,
    platform_companies,
    platform_payment_links,
)

__all__ = [
    "PLATFORM",
    "SqlCheckpoints",
    "SqlPaymentLinks",
    "SqlTokenStore",
    "api_for",
    "apply_posted_event",
    "auth_client",
    "backfill_company",
    "catch_up_company",
    "companies",
    "connected_among",
    "fetch_notice",
    "post_journal_event",
    "publish_changes",
    "publish_notices",
    "realm_of",
    "store_company",
    "token_warnings",
]

log = logging.getLogger("forwardflow.quickbooks")

PLATFORM = "quickbooks"


def auth_client(app: Forwardflow) -> AuthClient:
    """intuit-oauth for this installation's Intuit app (or the emulator's discovery URL)."""
    settings = app.settings.quickbooks
    if not settings.client_id or settings.client_secret is None:
        raise DomainError(
            "quickbooks.app", "set quickbooks.client_id and quickbooks.client_secret first"
        )
    return AuthClient(
        settings.client_id,
        settings.client_secret.get_secret_value(),
        settings.redirect_uri,
        environment=settings.discovery_url or settings.environment,
    )


class SqlTokenStore:
    """Companies' tokens, sealed with the installation key, bound to their company id."""

    def __init__(self, app: Forwardflow) -> None:
        self._app = app
        self._box = secret_box(app.settings)

    def load(self, realm_id: str) -> Tokens:
        """The company's current tokens."""
        with self._app.unit_of_work() as uow:
            row = uow.connection.execute(
                select(platform_companies.c.tokens).where(
                    platform_companies.c.platform == PLATFORM,
                    platform_companies.c.company_id == realm_id,
                )
            ).first()
        if row is None:
            raise AuthorizationError(f"QuickBooks company {realm_id} is not connected")
        return self._opened(realm_id, row.tokens)

    def _opened(self, realm_id: str, sealed: bytes) -> Tokens:
        data = json.loads(self._box.open(sealed, f"{PLATFORM}:{realm_id}"))
        return Tokens(
            data["access_token"],
            data["refresh_token"],
            datetime.fromisoformat(data["access_expires_at"]),
            datetime.fromisoformat(data["refresh_expires_at"]),
        )

    def _sealed(self, realm_id: str, tokens: Tokens) -> bytes:
        data = {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "access_expires_at": tokens.access_expires_at.isoformat(),
            "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
        }
        return self._box.seal(json.dumps(data).encode(), f"{PLATFORM}:{realm_id}")

    def save(self, realm_id: str, tokens: Tokens, replacing: Tokens | None = None) -> bool:
        """Persist rotated tokens (one transaction: atomic); True when written.

        With ``replacing`` (a refresh), the row is written only if it still holds those
        tokens: a company reconnected while the refresh was in flight keeps its newer
        grant. SQLite's transactions take the write lock first; PostgreSQL locks the row.
        """
        with self._app.unit_of_work() as uow:
            if replacing is not None:
                row = uow.connection.execute(
                    select(platform_companies.c.tokens)
                    .where(
                        platform_companies.c.platform == PLATFORM,
                        platform_companies.c.company_id == realm_id,
                    )
                    .with_for_update()
                ).first()
                held = self._opened(realm_id, row.tokens) if row else None
                if held is None or held.refresh_token != replacing.refresh_token:
                    log.warning(
                        "refreshed tokens dropped realm=%s: a newer grant was stored meanwhile",
                        realm_id,
                    )
                    return False
            uow.connection.execute(
                update(platform_companies)
                .where(
                    platform_companies.c.platform == PLATFORM,
                    platform_companies.c.company_id == realm_id,
                )
                .values(
                    tokens=self._sealed(realm_id, tokens),
                    access_expires_at=tokens.access_expires_at,
                    refresh_expires_at=tokens.refresh_expires_at,
                    updated_at=datetime.now(UTC),
                )
            )
            uow.commit()
        return True

    def connect(self, realm_id: str, tokens: Tokens) -> None:
        """Store a newly connected company (or reconnect it)."""
        with self._app.unit_of_work() as uow:
            uow.connection.execute(
                delete(platform_companies).where(
                    platform_companies.c.platform == PLATFORM,
                    platform_companies.c.company_id == realm_id,
                )
            )
            uow.connection.execute(
                platform_companies.insert().values(
                    platform=PLATFORM,
                    company_id=realm_id,
                    tenant=tenant_of(realm_id),
                    tokens=self._sealed(realm_id, tokens),
                    access_expires_at=tokens.access_expires_at,
                    refresh_expires_at=tokens.refresh_expires_at,
                )
            )
            uow.commit()

    def forget(self, realm_id: str) -> None:
        """Drop a disconnected company's tokens."""
        with self._app.unit_of_work() as uow:
            uow.connection.execute(
                delete(platform_companies).where(
                    platform_companies.c.platform == PLATFORM,
                    platform_companies.c.company_id == realm_id,
                )
            )
            uow.commit()


def store_company(app: Forwardflow, realm_id: str, tokens: Tokens) -> None:
    """Remember a company connected through the OAuth flow; what was held for it goes out."""
    SqlTokenStore(app).connect(realm_id, tokens)
    if held := requeue(app, PLATFORM, realm_id):
        log.info("re-authorised realm=%s: %d journal entries queued again", realm_id, held)


def companies(app: Forwardflow) -> list[dict[str, Any]]:
    """Connected companies with their token health (no token is ever shown)."""
    with app.unit_of_work() as uow:
        rows = uow.connection.execute(
            select(
                platform_companies.c.company_id,
                platform_companies.c.tenant,
                platform_companies.c.access_expires_at,
                platform_companies.c.refresh_expires_at,
                platform_companies.c.connected_at,
            )
            .where(platform_companies.c.platform == PLATFORM)
            .order_by(platform_companies.c.company_id)
        )
        return [dict(row._mapping) for row in rows]


def _put_row(app: Forwardflow, table: Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    """Replace the row with this key (delete, insert) in one commit: works on every database."""
    with app.unit_of_work() as uow:
        uow.connection.execute(
            delete(table).where(*(table.c[name] == value for name, value in key.items()))
        )
        uow.connection.execute(table.insert().values(**key, **values))
        uow.commit()


class SqlPaymentLinks:
    """Which invoices each payment paid, as last read."""

    def __init__(self, app: Forwardflow) -> None:
        self._app = app

    def invoices(self, realm_id: str, payment_id: str) -> set[str]:
        """The invoices the payment was last seen paying."""
        with self._app.unit_of_work() as uow:
            row = uow.connection.execute(
                select(platform_payment_links.c.invoice_ids).where(
                    platform_payment_links.c.platform == PLATFORM,
                    platform_payment_links.c.company_id == realm_id,
                    platform_payment_links.c.payment_id == payment_id,
                )
            ).first()
        return set(row.invoice_ids) if row else set()

    def remember(self, realm_id: str, payment_id: str, invoice_ids: set[str]) -> None:
        """Record what the payment pays now."""
        key = {"platform": PLATFORM, "company_id": realm_id, "payment_id": payment_id}
        _put_row(self._app, platform_payment_links, key, {"invoice_ids": sorted(invoice_ids)})


def api_for(app: Forwardflow, realm_id: str) -> QuickBooksApi:
    """The API of one connected company, with this installation's settings."""
    settings = app.settings.quickbooks
    return QuickBooksApi(
        realm_id,
        lambda: auth_client(app),
        SqlTokenStore(app),
        minor_version=settings.minor_version,
        api_base_url=settings.api_base_url,
        per_minute=settings.calls_per_minute,
    )


_PUBLISH_AT_ONCE = 256


async def publish_notices(
    broker: NatsBroker, app: Forwardflow, notices: list[ChangeNotice]
) -> None:
    """Put webhook notices on the NOTICES stream, deduplicated by their event id.

    Published in bulk (up to 256 awaiting their acknowledgement at once), not one round
    trip after the other: a big body is answered in milliseconds, not seconds.
    """
    jetstream = broker.connection.jetstream()
    for start in range(0, len(notices), _PUBLISH_AT_ONCE):
        await asyncio.gather(
            *(
                jetstream.publish(
                    app.topology.notice_subject(PLATFORM, notice.realm_id),
                    notice.model_dump_json().encode(),
                    headers={EVENT_ID: notice.event_id, MSG_ID: notice.event_id},
                )
                for notice in notices[start : start + _PUBLISH_AT_ONCE]
            )
        )


def connected_among(app: Forwardflow, realms: set[str]) -> set[str]:
    """Which of these companies are connected (one query per 500 names)."""
    found: set[str] = set()
    names = sorted(realms)
    with app.unit_of_work() as uow:
        for start in range(0, len(names), 500):
            rows = uow.connection.execute(
                select(platform_companies.c.company_id).where(
                    platform_companies.c.platform == PLATFORM,
                    platform_companies.c.company_id.in_(names[start : start + 500]),
                )
            )
            found.update(row.company_id for row in rows)
    return found


async def publish_changes(
    broker: NatsBroker, app: Forwardflow, realm_id: str, changes: list[LedgerChange]
) -> None:
    """Ledger changes to the LEDGER stream, each deduplicated by its event id."""
    jetstream = broker.connection.jetstream()
    for change in changes:
        subject, body, headers = ledger_message(app.topology, tenant_of(realm_id), change)
        await jetstream.publish(subject, body, headers=headers)


async def fetch_notice(broker: NatsBroker, app: Forwardflow, body: bytes) -> str:
    """Re-read what a notice names, publish the ledger changes, then keep payment links."""
    try:
        notice = ChangeNotice.model_validate_json(body)
    except ValueError as error:
        raise DomainError("notice.shape", f"not a change notice: {error}") from None
    if notice.is_coalesced:
        return await _catch_up_for(broker, app, notice)
    links = SqlPaymentLinks(app)
    try:
        fetched = await asyncio.to_thread(
            changes_for_notice, api_for(app, notice.realm_id), notice, links
        )
    except TransientPlatformError:
        raise  # not a DomainError: the subscriber retries it with backoff
    except PlatformError as error:
        raise DomainError("quickbooks.refused", str(error)) from None
    await publish_changes(broker, app, notice.realm_id, fetched.changes)
    await asyncio.to_thread(fetched.remember, links)
    return notice.event_id


def _covered(app: Forwardflow, notice: ChangeNotice) -> bool:
    """A catch-up that began after the notice arrived already published what it stands for."""
    if notice.occurred is None:
        return False
    checkpoints = SqlCheckpoints(app)
    held = [checkpoints.get(notice.realm_id, entity) for entity in CDC_ENTITIES]
    return all(since is not None and since >= notice.occurred for since in held)


async def _catch_up_for(broker: NatsBroker, app: Forwardflow, notice: ChangeNotice) -> str:
    """A coalesced flood: change-data-capture for the company, unless one already ran."""
    if await asyncio.to_thread(_covered, app, notice):
        log.info("coalesced notice already covered realm=%s", notice.realm_id)
        return notice.event_id
    try:
        report = await catch_up_company(broker, app, notice.realm_id)
    except TransientPlatformError:
        raise
    except PlatformError as error:
        raise DomainError("quickbooks.refused", str(error)) from None
    log.info(
        "coalesced notice realm=%s stood_for=%d fetched=%s",
        notice.realm_id,
        notice.coalesced,
        report.fetched,
    )
    return notice.event_id


class SqlCheckpoints:
    """Change-data-capture checkpoints per company and entity."""

    def __init__(self, app: Forwardflow) -> None:
        self._app = app

    def get(self, realm_id: str, entity: str) -> datetime | None:
        """Everything changed before this was published."""
        with self._app.unit_of_work() as uow:
            row = uow.connection.execute(
                select(platform_checkpoints.c.changed_since).where(
                    platform_checkpoints.c.platform == PLATFORM,
                    platform_checkpoints.c.company_id == realm_id,
                    platform_checkpoints.c.entity == entity,
                )
            ).first()
        if row is None:
            return None
        since: datetime = row.changed_since
        return since if since.tzinfo else since.replace(tzinfo=UTC)

    def set(self, realm_id: str, entity: str, since: datetime) -> None:
        """Move the checkpoint (after publishing)."""
        key = {"platform": PLATFORM, "company_id": realm_id, "entity": entity}
        _put_row(self._app, platform_checkpoints, key, {"changed_since": since})


def _publisher(
    broker: NatsBroker, app: Forwardflow, realm_id: str, loop: asyncio.AbstractEventLoop
) -> Callable[[list[LedgerChange]], None]:
    """A blocking publish for work on a thread: waits until the broker acknowledged."""

    def publish(changes: list[LedgerChange]) -> None:
        asyncio.run_coroutine_threadsafe(
            publish_changes(broker, app, realm_id, changes), loop
        ).result(timeout=300)

    return publish


async def catch_up_company(
    broker: NatsBroker, app: Forwardflow, realm_id: str, sweep: timedelta | None = None
) -> CatchUp:
    """Change-data-capture for one company (a sweep re-reads ``sweep`` back regardless)."""
    loop = asyncio.get_running_loop()
    return await asyncio.to_thread(
        catch_up,
        api_for(app, realm_id),
        SqlCheckpoints(app),
        SqlPaymentLinks(app),
        _publisher(broker, app, realm_id, loop),
        sweep=sweep,
    )


async def backfill_company(
    broker: NatsBroker,
    app: Forwardflow,
    realm_id: str,
    progress: Callable[[int, str], None] | None = None,
) -> int:
    """First connection: customers, open invoices and their payments; then CDC takes over."""
    loop = asyncio.get_running_loop()
    return await asyncio.to_thread(
        backfill,
        api_for(app, realm_id),
        SqlCheckpoints(app),
        SqlPaymentLinks(app),
        _publisher(broker, app, realm_id, loop),
        progress,
    )


def token_warnings(app: Forwardflow, now: datetime | None = None) -> list[str]:
    """Companies whose refresh token hard-expires within 30 days (reconnect them)."""
    now = now or datetime.now(UTC)
    found = []
    for company in companies(app):
        expires: datetime = company["refresh_expires_at"]
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        if expires - now < timedelta(days=30):
            found.append(
                f"QuickBooks company {company['company_id']} must reconnect by {expires:%Y-%m-%d}"
            )
    return found


def realm_of(tenant: str) -> str | None:
    """The QuickBooks company behind a ledger tenant, if it is one."""
    return tenant.removeprefix("qbo-") if tenant.startswith("qbo-") else None


def _journal_event(body: bytes, name: str) -> dict[str, Any]:
    """The data of a journal event; one without an entry and a portfolio is malformed."""
    try:
        data = dict(json.loads(body)["data"])
    except (ValueError, KeyError, TypeError) as error:
        raise DomainError("event.shape", f"not a {name} event: {error}") from None
    if not data.get("entry_id") or not data.get("portfolio_id"):
        raise DomainError("event.shape", f"not a {name} event: no entry_id or portfolio_id")
    return data


async def post_journal_event(app: Forwardflow, body: bytes) -> tuple[bool, str]:
    """Post a JournalEntryRequested event to its company; (posted, event id).

    Entries of portfolios whose ledger is not a QuickBooks company are not posted. One the
    company's authorisation stops (refresh refused, still unauthorised, disconnected) is
    held, not dead-lettered: recorded as blocked, shown by ``status`` and ``/readyz``, and
    posted again when the company is re-authorised. A posted entry is recorded, and one
    with receivable lines queued to be applied to its invoices.
    """
    data = _journal_event(body, ENTRY_EVENT)
    entry_id, portfolio_id = str(data["entry_id"]), str(data["portfolio_id"])
    event_id = f"JournalEntryRequested:{portfolio_id}:{entry_id}"
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(portfolio_id)
    realm = realm_of(portfolio.tenant) if portfolio else None
    if realm is None:
        return False, event_id
    try:
        qbo_id, posted = await asyncio.to_thread(
            post_journal_entry, api_for(app, realm), data, app.settings.quickbooks.accounts
        )
    except TransientPlatformError:
        raise
    except AuthorizationError as error:
        await asyncio.to_thread(
            record_posting, app, PLATFORM, realm, data, PostingState.BLOCKED, problem=str(error)
        )
        log.warning("journal entry held entry=%s realm=%s: not authorised", entry_id, realm)
        return False, event_id
    except PlatformError as error:
        await asyncio.to_thread(
            record_posting, app, PLATFORM, realm, data, PostingState.BLOCKED, problem=str(error)
        )
        raise DomainError("quickbooks.refused", str(error)) from None
    state = PostingState.POSTED if data.get("receivables") else PostingState.APPLIED
    await asyncio.to_thread(record_posting, app, PLATFORM, realm, data, state, platform_id=qbo_id)
    log.info("journal entry entry=%s qbo_id=%s posted=%s", entry_id, qbo_id, posted)
    return True, event_id


def _apply(app: Forwardflow, realm: str, portfolio_id: str, customers: list[str]) -> Applied:
    """Rewrite the customers' applications from every entry of the portfolio in the books."""
    posted = [
        Posted(p.platform_id, str(p.entry["entry_date"]), p.entry.get("receivables", []))
        for p in postings_of(app, PLATFORM, realm, portfolio_id)
        if p.platform_id is not None and p.state != PostingState.BLOCKED
    ]
    return apply_entries(api_for(app, realm), portfolio_id, customers, posted)


async def apply_posted_event(app: Forwardflow, body: bytes) -> tuple[bool, str]:
    """Apply a posted entry's receivable lines to the invoices they concern; (done, id).

    See ``connectors.quickbooks.writeback``: one zero-total payment per portfolio and
    customer, rewritten from all of forwardflow's entries for them. Held like a posting
    when the company is not authorised.
    """
    data = _journal_event(body, APPLY_EVENT)
    entry_id, portfolio_id = str(data["entry_id"]), str(data["portfolio_id"])
    realm = str(data.get("company_id", ""))
    event_id = f"{APPLY_EVENT}:{portfolio_id}:{entry_id}"
    if data.get("platform") != PLATFORM or not realm:
        return False, event_id
    customers = [str(c) for c in data.get("customers", [])]
    try:
        done = await asyncio.to_thread(_apply, app, realm, portfolio_id, customers)
    except TransientPlatformError:
        raise
    except PlatformError as error:
        await asyncio.to_thread(
            mark_posting, app, PLATFORM, realm, entry_id, PostingState.UNAPPLIED, str(error)
        )
        if isinstance(error, AuthorizationError):
            log.warning("application held entry=%s realm=%s: not authorised", entry_id, realm)
            return False, event_id
        raise DomainError("quickbooks.refused", str(error)) from None
    if done.refused:  # kept as a problem; the next entry for the customer tries again
        problem = "; ".join(f"customer {c}: {why}" for c, why in sorted(done.refused.items()))
        await asyncio.to_thread(
            mark_posting, app, PLATFORM, realm, entry_id, PostingState.UNAPPLIED, problem
        )
        log.warning("application refused entry=%s realm=%s", entry_id, realm)
        return False, event_id
    await asyncio.to_thread(mark_posting, app, PLATFORM, realm, entry_id, PostingState.APPLIED)
    log.info(
        "applied entry=%s realm=%s applications=%d waiting=%d",
        entry_id,
        realm,
        len(done.made),
        len(done.waiting),
    )
    return True, event_id
