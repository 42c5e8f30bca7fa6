"""QuickBooks Online on the platform seam: every QuickBooks step the wiring asks for.

The modules beside this one do the work (webhook, fetch, change-data-capture, OAuth,
write-back); this class ties them to what the wiring gives a platform
(``connectors.platform.PlatformContext``): its settings section, token store,
checkpoints, payment links and publishing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import ClassVar

from intuitlib.client import AuthClient
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
from connectors.quickbooks.cdc import ENTITIES, backfill, catch_up
from connectors.quickbooks.client import QuickBooksApi
from connectors.quickbooks.fetch import changes_for_notice
from connectors.quickbooks.oauth import (
    api_url_v3,
    authorization_url,
    exchange_code,
    revoke,
    valid_realm,
    verify_grant,
)
from connectors.quickbooks.schemas import ChangeNotice
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.quickbooks.webhook import webhook_endpoint
from connectors.quickbooks.writeback import apply_entries, post_journal_entry
from debtsale.events import JournalEntryRequested

__all__ = ["QuickBooks"]

log = logging.getLogger("forwardflow.quickbooks")


def _settings(context: PlatformContext) -> QuickBooksSettings:
    settings = context.settings
    assert isinstance(settings, QuickBooksSettings)
    return settings


class QuickBooks(PrefixedTenants):
    """QuickBooks Online: Intuit's OAuth 2, webhooks with ``intuit-signature``, CDC."""

    tenant_prefix: ClassVar[str] = "qbo-"
    name: ClassVar[str] = "quickbooks"
    title: ClassVar[str] = "QuickBooks"
    settings_model: ClassVar[type[PlatformSettings]] = QuickBooksSettings
    reconnect_warning: ClassVar[timedelta] = timedelta(days=30)

    # ------------------------------------------------------------------ companies
    def valid_company_id(self, company_id: str) -> bool:
        """A realm id: digits only, at most 20."""
        return valid_realm(company_id)

    def api(self, context: PlatformContext, company_id: str) -> QuickBooksApi:
        """The API of one connected company, with this installation's settings."""
        settings = _settings(context)
        return QuickBooksApi(
            company_id,
            lambda: self.auth_client(context),
            context.tokens,
            minor_version=settings.minor_version,
            api_base_url=settings.api_base_url,
            per_minute=settings.calls_per_minute,
        )

    # ------------------------------------------------------------------ webhooks
    def webhook_routes(self, context: PlatformContext) -> list[Route]:
        """``POST /webhooks/quickbooks``: verified, answered at once, notices published."""

        def verifier_token() -> str | None:
            token = _settings(context).verifier_token
            return token.get_secret_value() if token else None

        async def publish(notices: list[ChangeNotice]) -> None:
            await context.publish_notices(
                [(n.realm_id, n.event_id, n.model_dump_json().encode()) for n in notices]
            )

        endpoint = webhook_endpoint(verifier_token, context.connected, publish)
        return [Route(f"/webhooks/{self.name}", endpoint, methods=["POST"])]

    # ------------------------------------------------------------------ OAuth
    def auth_client(self, context: PlatformContext) -> AuthClient:
        """intuit-oauth for this installation's Intuit app (or the emulator's discovery URL)."""
        settings = _settings(context)
        if not settings.client_id or settings.client_secret is None:
            raise PlatformError("set quickbooks.client_id and quickbooks.client_secret first")
        return AuthClient(
            settings.client_id,
            settings.client_secret.get_secret_value(),
            settings.redirect_uri,
            environment=settings.discovery_url or settings.environment,
        )

    def redirect_uri(self, context: PlatformContext) -> str:
        """The redirect URI registered with Intuit."""
        return _settings(context).redirect_uri

    def authorization_url(self, context: PlatformContext, state: str) -> str:
        """Intuit's consent page for the accounting scope, carrying ``state``."""
        return authorization_url(self.auth_client(context), state)

    def callback_company(self, params: dict[str, str]) -> str | None:
        """Intuit names the company in ``realmId``."""
        return params.get("realmId") or None

    def grant(self, context: PlatformContext, code: str, company_id: str | None) -> Grant:
        """Trade the code, then prove the tokens read ``company_id``'s CompanyInfo."""
        if company_id is None:
            raise GrantMismatchError("the callback names no QuickBooks company (realmId)")
        settings = _settings(context)
        tokens = exchange_code(self.auth_client(context), code, company_id)
        try:
            verify_grant(
                tokens,
                company_id,
                api_url_v3(settings.environment, settings.api_base_url),
                settings.minor_version,
            )
        except GrantMismatchError:
            try:
                revoke(self.auth_client(context), tokens.refresh_token)
            except PlatformError:
                log.warning("could not revoke a refused grant for realm %s", company_id)
            raise
        return Grant(company_id, tokens)

    def revoke(self, context: PlatformContext, company_id: str, tokens: Tokens) -> None:
        """Revoke the company's grant (its refresh token and every access token)."""
        revoke(self.auth_client(context), tokens.refresh_token)

    # ------------------------------------------------------------------ the ledger
    def fetch_notice(self, context: PlatformContext, body: bytes) -> str:
        """Re-read what a notice names, publish its changes, then keep payment links."""
        notice = ChangeNotice.model_validate_json(body)
        if notice.is_coalesced:
            self._catch_up_for(context, notice)
            return notice.event_id
        links = context.payment_links
        fetched = changes_for_notice(self.api(context, notice.realm_id), notice, links)
        context.publisher(notice.realm_id)(fetched.changes)
        fetched.remember(links)  # only once the changes are on the broker
        return notice.event_id

    def _catch_up_for(self, context: PlatformContext, notice: ChangeNotice) -> None:
        """A coalesced flood: change-data-capture for the company, unless one already ran."""
        held = [context.checkpoints.get(notice.realm_id, entity) for entity in ENTITIES]
        if notice.occurred is not None and all(
            since is not None and since >= notice.occurred for since in held
        ):
            log.info("coalesced notice already covered realm=%s", notice.realm_id)
            return
        report = self.catch_up(context, notice.realm_id)
        log.info(
            "coalesced notice realm=%s stood_for=%d fetched=%s",
            notice.realm_id,
            notice.coalesced,
            report.fetched,
        )

    def catch_up(
        self, context: PlatformContext, company_id: str, sweep: timedelta | None = None
    ) -> CatchUp:
        """Change-data-capture from the checkpoints; a sweep re-reads ``sweep`` back."""
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
        """Customers, open invoices and their payments; then CDC takes over."""
        return backfill(
            self.api(context, company_id),
            context.checkpoints,
            context.payment_links,
            context.publisher(company_id),
            progress,
            page=_settings(context).backfill_page_size,
            workers=_settings(context).backfill_workers,
        )

    # ------------------------------------------------------------------ the books
    def post_entry(
        self, context: PlatformContext, company_id: str, entry: JournalEntryRequested
    ) -> tuple[str, bool]:
        """A JournalEntry with a DocNumber derived from the entry id, looked up first."""
        return post_journal_entry(self.api(context, company_id), entry, _settings(context).accounts)

    def invoice_pdfs(
        self, context: PlatformContext, company_id: str
    ) -> Callable[[str], bytes | None]:
        """``GET /v3/company/{realm}/invoice/{id}/pdf`` through one API object."""
        return self.api(context, company_id).invoice_pdf

    def apply_entries(
        self,
        context: PlatformContext,
        company_id: str,
        portfolio_id: str,
        customers: Sequence[str],
        posted: Sequence[Posted],
    ) -> Applied:
        """One zero-total payment per portfolio and customer linking entries and invoices."""
        return apply_entries(
            self.api(context, company_id), portfolio_id, list(customers), list(posted)
        )
