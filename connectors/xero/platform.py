"""Xero on the platform seam: every Xero step the wiring asks for.

The modules beside this one do the work (webhook, fetch, polling, OAuth, write-back);
this class ties them to what the wiring gives a platform
(``connectors.platform.PlatformContext``): its settings section, token store,
checkpoints, payment links and publishing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import ClassVar

from starlette.routing import Route

from connectors.platform import (
    Applied,
    CatchUp,
    Grant,
    GrantMismatchError,
    PlatformContext,
    PlatformError,
    PlatformSettings,
    Posted,
    PrefixedTenants,
    Tokens,
)
from connectors.xero.client import XeroApi
from connectors.xero.fetch import changes_for_notice
from connectors.xero.oauth import (
    authorization_url,
    connections,
    disconnect,
    exchange_code,
    revoke,
    valid_tenant,
)
from connectors.xero.poll import backfill, catch_up
from connectors.xero.schemas import XeroNotice
from connectors.xero.settings import XeroSettings
from connectors.xero.webhook import webhook_endpoint
from connectors.xero.writeback import apply_entries, post_manual_journal
from debtsale.events import JournalEntryRequested

__all__ = ["Xero"]

log = logging.getLogger("forwardflow.xero")


def _settings(context: PlatformContext) -> XeroSettings:
    settings = context.settings
    assert isinstance(settings, XeroSettings)
    return settings


class Xero(PrefixedTenants):
    """Xero: OAuth 2 with rotating refresh tokens, ``x-xero-signature`` webhooks, polling."""

    tenant_prefix: ClassVar[str] = "xero-"
    name: ClassVar[str] = "xero"
    title: ClassVar[str] = "Xero"
    settings_model: ClassVar[type[PlatformSettings]] = XeroSettings
    reconnect_warning: ClassVar[timedelta] = timedelta(days=14)
    """Refresh tokens die after 60 days unused: warn when one has two weeks left."""

    # ------------------------------------------------------------------ companies
    def valid_company_id(self, company_id: str) -> bool:
        """A Xero tenant id: a GUID."""
        return valid_tenant(company_id)

    def api(self, context: PlatformContext, company_id: str) -> XeroApi:
        """The Accounting API of one connected organisation."""
        return XeroApi(company_id, context.tokens, _settings(context))

    # ------------------------------------------------------------------ webhooks
    def webhook_routes(self, context: PlatformContext) -> list[Route]:
        """``POST /webhooks/xero``: verified, answered with an empty 200, notices published."""

        def webhook_key() -> str | None:
            key = _settings(context).webhook_key
            return key.get_secret_value() if key else None

        async def publish(notices: list[XeroNotice]) -> None:
            await context.publish_notices(
                [(n.tenant_id, n.event_id, n.model_dump_json().encode()) for n in notices]
            )

        endpoint = webhook_endpoint(webhook_key, context.connected, publish)
        return [Route(f"/webhooks/{self.name}", endpoint, methods=["POST"])]

    # ------------------------------------------------------------------ OAuth
    def redirect_uri(self, context: PlatformContext) -> str:
        """The redirect URI registered with Xero."""
        return _settings(context).redirect_uri

    def authorization_url(self, context: PlatformContext, state: str) -> str:
        """Xero's consent page, carrying ``state``."""
        return authorization_url(_settings(context), state)

    def callback_company(self, params: dict[str, str]) -> str | None:
        """Xero's callback names no organisation: ``GET /connections`` does."""
        return None

    def grant(self, context: PlatformContext, code: str, company_id: str | None) -> Grant:
        """Trade the code, then learn from ``/connections`` which organisations it reaches."""
        settings = _settings(context)
        tokens = exchange_code(settings, code)
        try:
            tenants = [str(row["tenantId"]) for row in connections(settings, tokens.access_token)]
            if not tenants or (company_id is not None and company_id not in tenants):
                raise GrantMismatchError("the grant reaches no Xero organisation it should")
        except GrantMismatchError:
            try:
                revoke(settings, tokens.refresh_token)
            except PlatformError:
                log.warning("could not revoke a refused Xero grant")
            raise
        first = company_id or tenants[0]
        return Grant(first, tokens, others=tuple(t for t in tenants if t != first))

    def revoke(self, context: PlatformContext, company_id: str, tokens: Tokens) -> None:
        """Remove the grant's connection to the organisation (the grant itself is revoked
        when it reaches nothing else)."""
        disconnect(_settings(context), company_id, tokens)

    # ------------------------------------------------------------------ the ledger
    def fetch_notice(self, context: PlatformContext, body: bytes) -> str:
        """Re-read what a notice names (an invoice: with its payments), publish, keep links."""
        notice = XeroNotice.model_validate_json(body)
        fetched = changes_for_notice(
            self.api(context, notice.tenant_id), notice, context.payment_links
        )
        context.publisher(notice.tenant_id)(fetched.changes)
        fetched.remember(notice.tenant_id, context.payment_links)
        return notice.event_id

    def catch_up(
        self, context: PlatformContext, company_id: str, sweep: timedelta | None = None
    ) -> CatchUp:
        """Poll every collection with If-Modified-Since from its checkpoint."""
        return catch_up(
            self.api(context, company_id),
            context.checkpoints,
            context.payment_links,
            context.publisher(company_id),
            sweep=sweep,
        )

    def backfill(
        self,
        context: PlatformContext,
        company_id: str,
        progress: Callable[[int, str], None] | None = None,
    ) -> int:
        """Contacts, open invoices, their payments and credits; then polling takes over."""
        return backfill(
            self.api(context, company_id),
            context.checkpoints,
            context.payment_links,
            context.publisher(company_id),
            progress,
        )

    # ------------------------------------------------------------------ the books
    def post_entry(
        self, context: PlatformContext, company_id: str, entry: JournalEntryRequested
    ) -> tuple[str, bool]:
        """A ManualJournal with an Idempotency-Key derived from the entry id."""
        return post_manual_journal(
            self.api(context, company_id), entry, _settings(context).accounts
        )

    def invoice_pdfs(
        self, context: PlatformContext, company_id: str
    ) -> Callable[[str], bytes | None]:
        """``GET Invoices/{id}`` with ``Accept: application/pdf``."""
        return self.api(context, company_id).invoice_pdf

    def apply_entries(
        self,
        context: PlatformContext,
        company_id: str,
        portfolio_id: str,
        customers: Sequence[str],
        posted: Sequence[Posted],
    ) -> Applied:
        """Credit notes on the clearing account allocated to the invoices (see ``writeback``)."""
        return apply_entries(
            self.api(context, company_id),
            portfolio_id,
            customers,
            posted,
            _settings(context).accounts,
        )
