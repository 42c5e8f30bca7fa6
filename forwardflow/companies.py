"""Connected companies of every platform: connect, list with token health, warn, disconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connectors.platform import CatchUp, PlatformError, Tokens, TransientPlatformError
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.postings import requeue
from forwardflow.store.platforms import Company
from forwardflow.wired import WiredPlatform, seal

__all__ = [
    "backfill_company",
    "catch_up_company",
    "companies",
    "disconnect_company",
    "refused",
    "store_company",
    "token_warnings",
]

log = logging.getLogger("forwardflow.companies")


def store_company(wired: WiredPlatform, company_id: str, tokens: Tokens) -> None:
    """Remember a company connected through OAuth; what was held for it goes out again."""
    name = wired.platform.name
    with wired.app.unit_of_work() as uow:
        uow.companies.connect(
            name,
            company_id,
            wired.platform.tenant_of(company_id),
            seal(wired.app.secret_box(), name, company_id, tokens),
            tokens.access_expires_at,
            tokens.refresh_expires_at,
        )
        uow.commit()
    if held := requeue(wired.app, name, company_id):
        log.info("re-authorised %s company=%s: %d entries queued again", name, company_id, held)


def companies(app: Forwardflow, platform: str | None = None) -> list[Company]:
    """Connected companies (of one platform) with their token health; never a token."""
    with app.unit_of_work() as uow:
        return uow.companies.list(platform)


def token_warnings(app: Forwardflow, now: datetime | None = None) -> list[str]:
    """Companies whose refresh token hard-expires soon (each platform says how soon)."""
    now = now or datetime.now(UTC)
    found = []
    for company in companies(app):
        platform = app.platforms.get(company.platform)
        ahead = platform.reconnect_warning if platform else timedelta(days=30)
        if company.refresh_expires_at - now < ahead:
            title = platform.title if platform else company.platform
            found.append(
                f"{title} company {company.company_id} must reconnect by "
                f"{company.refresh_expires_at:%Y-%m-%d}"
            )
    return found


def refused(wired: WiredPlatform, error: PlatformError) -> DomainError:
    """A platform's refusal as the domain error the subscribers dead-letter."""
    return DomainError(f"{wired.platform.name}.refused", str(error))


async def _on_thread(wired: WiredPlatform, work: Callable[[], object]) -> object:
    try:
        return await asyncio.to_thread(work)
    except TransientPlatformError:
        raise  # not a DomainError: retried with backoff
    except PlatformError as error:
        raise refused(wired, error) from None


async def catch_up_company(
    wired: WiredPlatform, company_id: str, sweep: timedelta | None = None
) -> CatchUp:
    """Change-data-capture for one company (a sweep re-reads ``sweep`` back regardless)."""
    report = await _on_thread(
        wired, lambda: wired.platform.catch_up(wired, company_id, sweep=sweep)
    )
    assert isinstance(report, CatchUp)
    return report


async def backfill_company(
    wired: WiredPlatform,
    company_id: str,
    progress: Callable[[int, str], None] | None = None,
) -> int:
    """First connection: customers, open invoices and their payments; then CDC takes over."""
    count = await _on_thread(wired, lambda: wired.platform.backfill(wired, company_id, progress))
    assert isinstance(count, int)
    return count


def disconnect_company(wired: WiredPlatform, company_id: str) -> None:
    """Revoke the grant at the platform, then forget the company's tokens.

    A refused revocation raises PlatformError and keeps the tokens (try again).
    """
    wired.platform.revoke(wired, company_id, wired.tokens.load(company_id))
    with wired.app.unit_of_work() as uow:
        uow.companies.forget(wired.platform.name, company_id)
        uow.commit()
