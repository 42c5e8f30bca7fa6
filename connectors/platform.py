"""The platform seam: what every accounting-platform connector implements, and what it is given.

A platform (QuickBooks Online, Xero …) is one package under ``connectors/`` with one
class implementing ``Platform`` in full: its webhook route, turning a change notice into
ledger changes, change-data-capture catch-up and backfill, the OAuth grant and its
checks, posting journal entries and applying them to invoices, and its settings section.
The wiring (``forwardflow``) lists the platforms in one registry and gives each a
``PlatformContext`` (its settings, its stores, publishing); everything generic — connect
links, sealed tokens, checkpoints, held postings, subscribers, the CLI, readiness — is
written once there, against this protocol, and names no platform.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Route

from debtsale.changes import LedgerChange
from debtsale.events import JournalEntryRequested

__all__ = [
    "CALLS",
    "PAUSED",
    "Applied",
    "AuthorizationError",
    "CatchUp",
    "Checkpoints",
    "Grant",
    "GrantMismatchError",
    "PaymentLinks",
    "Platform",
    "PlatformContext",
    "PlatformError",
    "PlatformSettings",
    "Posted",
    "PrefixedTenants",
    "Publish",
    "TokenStore",
    "Tokens",
    "TransientPlatformError",
    "paused",
]


CALLS: collections.Counter[str] = collections.Counter()
"""Calls to platforms in this process, by outcome (ok, throttled, refreshed, error): the
connectors count, ``/metrics`` shows them."""

PAUSED: dict[tuple[str, str], datetime] = {}
"""Companies whose calls a platform has paused in this process, (platform, company) →
until when (Xero's day limit spent): the connectors set it, `/readyz` shows it."""


def paused(platform: str) -> dict[str, datetime]:
    """The companies of ``platform`` whose calls are paused now, and until when."""
    now = datetime.now(UTC)
    return {
        company: until
        for (name, company), until in PAUSED.items()
        if name == platform and until > now
    }


# ---------------------------------------------------------------------- errors
class PlatformError(Exception):
    """The platform refused the call for a reason a retry will not fix."""


class AuthorizationError(PlatformError):
    """The company's authorisation is gone (refresh refused, still 401, not connected):
    nothing works for it until it is connected again."""


class TransientPlatformError(PlatformError):
    """The platform is unavailable or throttling beyond our patience: try again later."""


class GrantMismatchError(PlatformError):
    """The tokens an OAuth grant produced do not open the company the callback names."""


# ---------------------------------------------------------------------- settings
class PlatformSettings(BaseModel):
    """What every platform's settings section has; each platform adds its own fields.

    The wiring reads ``redirect_uri`` for the OAuth callback and ``catch_up_minutes`` for
    how often change-data-capture runs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    redirect_uri: str = Field(
        default="", description="OAuth redirect URI registered with the platform."
    )
    catch_up_minutes: float = Field(
        default=15.0, ge=0, description="How often change-data-capture runs; 0 turns it off."
    )

    sample_fields: ClassVar[tuple[str, ...]] = ()
    """Settings whose default is a sample a production installation must replace (the
    service refuses to start on PostgreSQL in production while one is left as shipped)."""

    def in_production(self) -> bool:
        """True when the section points at the platform's production service."""
        return False


# ---------------------------------------------------------------------- what the wiring keeps
@dataclass(frozen=True, slots=True)
class Tokens:
    """A company's OAuth tokens and when they stop working."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime


class TokenStore(Protocol):
    """Where a company's tokens live (sealed at rest by the wiring)."""

    def load(self, company_id: str) -> Tokens:
        """The current tokens; an unknown company raises AuthorizationError."""
        ...

    def save(self, company_id: str, tokens: Tokens, replacing: Tokens | None = None) -> bool:
        """Persist rotated tokens atomically; with ``replacing``, only if the stored ones
        are still those (a reconnect meanwhile wins). True when written."""
        ...

    def rotate(
        self, company_id: str, stale_access_token: str, refresh: Callable[[Tokens], Tokens]
    ) -> None:
        """Refresh once, under the store's lock: unless the stored access token is no
        longer ``stale_access_token`` (another caller refreshed already, maybe in another
        process), call ``refresh`` with the held tokens and store what it returns before
        anything can use it. For platforms whose refresh spends the refresh token (Xero),
        so that no two processes ever send the same one."""
        ...


class Checkpoints(Protocol):
    """Where catch-up progress is kept, per company and entity."""

    def get(self, company_id: str, entity: str) -> datetime | None:
        """Everything changed before this was published (None: never caught up)."""
        ...

    def set(self, company_id: str, entity: str, since: datetime) -> None:
        """Move the checkpoint (only after publishing; never backwards)."""
        ...


class PaymentLinks(Protocol):
    """forwardflow's own memory of which invoices each payment paid."""

    def invoices(self, company_id: str, payment_id: str) -> set[str]:
        """The invoices the payment was last seen paying (empty if never seen)."""
        ...

    def remember(self, company_id: str, payment_id: str, invoice_ids: set[str]) -> None:
        """Record what the payment pays now."""
        ...


Publish = Callable[[Sequence[LedgerChange]], None]
"""Publish one company's ledger changes and wait until the broker has them (blocking)."""


class PrefixedTenants:
    """Ledger tenants named ``<tenant_prefix><company id>``: the ``tenant_of`` and
    ``company_of`` of a ``Platform``, for a platform class to inherit."""

    tenant_prefix: ClassVar[str]

    def tenant_of(self, company_id: str) -> str:
        """A company's ledger tenant: ``<prefix><company id>``."""
        return f"{self.tenant_prefix}{company_id}"

    def company_of(self, tenant: str) -> str | None:
        """The company behind one of this platform's tenants, else None."""
        prefix = self.tenant_prefix
        return tenant.removeprefix(prefix) if tenant.startswith(prefix) else None


class PlatformContext(Protocol):
    """What the wiring gives a platform: its settings section, its stores, publishing."""

    @property
    def settings(self) -> Any:
        """The platform's own settings section (an instance of its ``settings_model``)."""
        ...

    @property
    def tokens(self) -> TokenStore:
        """Connected companies' tokens."""
        ...

    @property
    def checkpoints(self) -> Checkpoints:
        """Catch-up checkpoints."""
        ...

    @property
    def payment_links(self) -> PaymentLinks:
        """Which invoices each payment paid."""
        ...

    def publisher(self, company_id: str) -> Publish:
        """A blocking publish of the company's ledger changes (for work on a thread)."""
        ...

    async def publish_notices(self, notices: Sequence[tuple[str, str, bytes]]) -> None:
        """Put webhook notices, each ``(company id, event id, body)``, on the broker
        (deduplicated by event id); ``fetch_notice`` gets the body back."""
        ...

    async def connected(self, company_ids: set[str]) -> set[str]:
        """Which of these companies are connected."""
        ...


# ---------------------------------------------------------------------- what a platform reports
@dataclass
class CatchUp:
    """What one catch-up did, per entity."""

    fetched: dict[str, int] = field(default_factory=dict)
    windowed: list[str] = field(default_factory=list)  # entities read by query windows


@dataclass(frozen=True, slots=True)
class Posted:
    """A journal entry in the platform's books, with the receivable lines it applies."""

    platform_id: str
    entry_date: str
    receivables: Sequence[Any]


@dataclass
class Applied:
    """What applying entries to invoices did, per customer."""

    made: dict[str, str] = field(default_factory=dict)  # customer → application id
    waiting: list[str] = field(default_factory=list)  # customers whose entries cannot balance
    refused: dict[str, str] = field(default_factory=dict)  # customer → reason


@dataclass(frozen=True, slots=True)
class Grant:
    """What an OAuth callback produced: the company and its tokens."""

    company_id: str
    tokens: Tokens
    others: tuple[str, ...] = ()
    """Other companies the same grant reaches (Xero: the organisations ticked on the
    consent page); the wiring connects one company per grant — ``company_id``, or the
    first of ``others`` when it is connected already — so none shares a refresh token."""


# ---------------------------------------------------------------------- the seam
class Platform(Protocol):
    """One accounting platform, in full. Implementations hold no state of their own."""

    name: ClassVar[str]
    """Lower-case, one word: routes (``/webhooks/<name>``), CLI (``forwardflow <name> …``),
    settings section (``[<name>]``, ``FORWARDFLOW_<NAME>__…``), stores and subjects."""

    title: ClassVar[str]
    """How people call it, for messages."""

    settings_model: ClassVar[type[PlatformSettings]]
    """Its settings section."""

    reconnect_warning: ClassVar[timedelta]
    """How long before a refresh token's hard expiry operators are warned."""

    def tenant_of(self, company_id: str) -> str:
        """The ledger tenant of one of its companies."""
        ...

    def company_of(self, tenant: str) -> str | None:
        """The company behind a ledger tenant, if the tenant is one of this platform's."""
        ...

    def valid_company_id(self, company_id: str) -> bool:
        """True when ``company_id`` has the platform's id format (checked before storing)."""
        ...

    def webhook_routes(self, context: PlatformContext) -> list[Route]:
        """Its webhook endpoint(s): verify, answer at once, publish notices."""
        ...

    def redirect_uri(self, context: PlatformContext) -> str:
        """The OAuth redirect URI registered with the platform (``…/callback/<name>``)."""
        ...

    def authorization_url(self, context: PlatformContext, state: str) -> str:
        """Where a browser asks the platform for a grant carrying ``state``."""
        ...

    def callback_company(self, params: dict[str, str]) -> str | None:
        """The company a callback names (QuickBooks: ``realmId``), if it names one."""
        ...

    def grant(self, context: PlatformContext, code: str, company_id: str | None) -> Grant:
        """Trade the code for tokens and prove they open the company (GrantMismatchError,
        after revoking them, if not)."""
        ...

    def revoke(self, context: PlatformContext, company_id: str, tokens: Tokens) -> None:
        """Give the grant back (disconnect)."""
        ...

    def fetch_notice(self, context: PlatformContext, body: bytes) -> str:
        """Re-read what a notice names and publish its ledger changes (blocking); the
        notice's event id. Malformed notices raise ValueError."""
        ...

    def catch_up(
        self, context: PlatformContext, company_id: str, sweep: timedelta | None = None
    ) -> CatchUp:
        """Change-data-capture from the checkpoints (blocking); ``sweep`` re-reads that far."""
        ...

    def backfill(
        self,
        context: PlatformContext,
        company_id: str,
        progress: Callable[[int, str], None] | None = None,
    ) -> int:
        """First connection: customers, open invoices and their payments (blocking)."""
        ...

    def post_entry(
        self, context: PlatformContext, company_id: str, entry: JournalEntryRequested
    ) -> tuple[str, bool]:
        """Post a journal entry once (a retry finds it); (platform id, posted now)."""
        ...

    def invoice_pdfs(
        self, context: PlatformContext, company_id: str
    ) -> Callable[[str], bytes | None]:
        """A reader of the company's invoices as the platform renders them (PDF bytes, or
        None for an invoice it has not), reused for every invoice of a sale."""
        ...

    def apply_entries(
        self,
        context: PlatformContext,
        company_id: str,
        portfolio_id: str,
        customers: Sequence[str],
        posted: Sequence[Posted],
    ) -> Applied:
        """Apply the portfolio's posted entries to the invoices of these customers."""
        ...
