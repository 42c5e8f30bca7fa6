"""Test helpers for Xero: the emulator up with an organisation connected, signed bodies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from connectors.platform import Platform, TokenStore
from connectors.xero.client import XeroApi
from connectors.xero.oauth import authorization_url, connections, exchange_code
from connectors.xero.platform import Xero
from connectors.xero.poll import COLLECTIONS
from connectors.xero.settings import XeroSettings
from connectors.xero.webhook import sign
from emulators.xero.app import XeroEmulator
from emulators.xero.server import XeroServer
from emulators.xero.webhooks import event_body
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.wired import WiredPlatform
from testkit.platforms import MemoryContext
from testkit.quickbooks import connect_in_browser as _connect_in_browser

__all__ = ["XeroKit", "connect_in_browser", "connect_tenant", "signed_event", "xero"]


def xero(app: Forwardflow, broker: Any = None) -> WiredPlatform:
    """The Xero platform wired into ``app`` (publishing through ``broker`` if given)."""
    bus = Bus(broker, app.topology) if broker is not None else None
    return app.platform(Xero.name, bus)


async def connect_in_browser(
    app: Forwardflow, company: str | None = None, browser: httpx.AsyncClient | None = None
) -> httpx.Response:
    """``forwardflow xero connect`` followed in a browser: the service, Xero's consent (the
    emulator ticks every organisation), the callback; its answer (``{"connected": id}``)."""
    return await _connect_in_browser(app, company, browser, platform=Xero.name)


def connect_tenant(
    settings: XeroSettings, tenant_id: str, store: TokenStore, **options: Any
) -> XeroApi:
    """Consent as a browser would (only ``tenant_id`` ticked), trade the code, keep the
    tokens for the organisation; its API."""
    url = authorization_url(settings, state="csrf-test") + f"&tenants={tenant_id}"
    redirect = httpx.get(url, follow_redirects=False)
    query = parse_qs(urlparse(redirect.headers["location"]).query)
    assert query["state"] == ["csrf-test"]
    tokens = exchange_code(settings, query["code"][0])
    assert [row["tenantId"] for row in connections(settings, tokens.access_token)] == [tenant_id]
    store.save(tenant_id, tokens)
    return XeroApi(tenant_id, store, settings, **options)


def signed_event(
    emulator: XeroEmulator, tenant: str, index: int = -1
) -> tuple[bytes, dict[str, str]]:
    """The signed webhook body Xero would send for one of the organisation's changes."""
    body = event_body(tenant, [emulator.orgs[tenant].changes[index]], 1)
    return body, {"x-xero-signature": sign(body, emulator.webhook_key)}


class _XeroRun:
    """The Xero emulator up with one organisation connected (see ``testkit.platforms``)."""

    platform: Platform = Xero()
    context: MemoryContext

    def __init__(self, server: XeroServer) -> None:
        self.server = server
        self.emulator = server.emulator
        self.org = self.emulator.organisation(name="Contract Dental Group")
        self.emulator.organisation(name="Another organisation the user may tick")
        self.company_id = self.org.tenant_id
        self.contact = self.org.add_contact("Contract Dental")["ContactID"]
        self.context = MemoryContext(server.settings(), {self.company_id})
        connect_tenant(self.context.settings, self.company_id, self.context.tokens)

    def new_invoice(self) -> tuple[str, bytes, dict[str, str]]:
        invoice = self.org.add_invoice(self.contact, "1200.00", date(2025, 1, 2))["InvoiceID"]
        body, headers = signed_event(self.emulator, self.company_id)
        return invoice, body, headers

    def forged(self, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "x-xero-signature": sign(b"something else", "not the key")}

    def expire_tokens(self) -> None:
        self.emulator.identity.expire_access_tokens()

    def entries_in_books(self) -> int:
        return len(self.org.manual_journals)

    def checkpoint_entities(self) -> list[str]:
        return list(COLLECTIONS)

    def now(self) -> datetime:
        return self.org.clock()


class XeroKit:
    """The Xero side of the platform contract suite."""

    @contextmanager
    def running(self) -> Iterator[_XeroRun]:
        """The emulator on loopback, an organisation connected through OAuth."""
        with XeroServer(XeroEmulator()) as server:
            yield _XeroRun(server)
