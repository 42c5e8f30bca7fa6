"""Connecting a company in tests and the demo, the way an operator and a browser do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.platform import Platform
from connectors.quickbooks.cdc import ENTITIES
from connectors.quickbooks.client import QuickBooksApi
from connectors.quickbooks.platform import QuickBooks
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.quickbooks.webhook import sign
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.connect import mint_link
from forwardflow.wired import WiredPlatform
from testkit.platforms import MemoryContext
from testkit.quickbooks_api import connect_company

__all__ = ["company_api", "connect_in_browser", "quickbooks"]


def quickbooks(app: Forwardflow, broker: Any = None) -> WiredPlatform:
    """The QuickBooks platform wired into ``app`` (publishing through ``broker`` if given)."""
    bus = Bus(broker, app.topology) if broker is not None else None
    return app.platform(QuickBooks.name, bus)


def company_api(app: Forwardflow, realm: str) -> QuickBooksApi:
    """The API of a connected company, as the service calls it."""
    return QuickBooks().api(quickbooks(app), realm)


async def connect_in_browser(
    app: Forwardflow,
    company: str | None = None,
    browser: httpx.AsyncClient | None = None,
    platform: str = QuickBooks.name,
) -> httpx.Response:
    """Mint a link (``forwardflow quickbooks connect``) and follow it in a browser.

    The browser (an httpx client keeping cookies) goes to the service, on to Intuit (the
    emulator grants at once) and back to the callback; the callback's answer is returned.
    """
    link, _ = await asyncio.to_thread(
        lambda: mint_link(app.platform(platform), company_id=company, minutes=5)
    )
    if browser is not None:
        return await browser.get(link, follow_redirects=True)
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:
        return await client.get(link)


class _QuickBooksRun:
    """The QuickBooks emulator up with one company connected (see ``testkit.platforms``)."""

    platform: Platform = QuickBooks()
    company_id: str = "4620816399"
    context: MemoryContext

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        emulator = server.emulator
        self.company = emulator.company(self.company_id)
        self.customer = self.company.add_customer("Contract Dental")["Id"]
        settings = QuickBooksSettings(
            client_id=emulator.client_id,
            client_secret=SecretStr(emulator.client_secret),
            verifier_token=SecretStr(emulator.verifier_token),
            api_base_url=server.api_url_v3,
            discovery_url=server.discovery_url,
        )
        self.context = MemoryContext(settings, {self.company_id})
        connect_company(server, self.company_id, self.context.tokens)

    def new_invoice(self) -> tuple[str, bytes, dict[str, str]]:
        invoice = self.company.add_invoice(self.customer, "1200.00", date(2025, 1, 2))["Id"]
        change = self.company.changes[-1]
        body = self.server.emulator.webhook_body(self.company_id, change)
        return invoice, body, {"intuit-signature": sign(body, self.server.emulator.verifier_token)}

    def forged(self, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "intuit-signature": sign(b"something else", "not the token")}

    def expire_tokens(self) -> None:
        self.server.emulator.expire_access_tokens()

    def entries_in_books(self) -> int:
        return len(self.company.all("JournalEntry"))

    def checkpoint_entities(self) -> list[str]:
        return list(ENTITIES)

    def now(self) -> datetime:
        return self.company.clock()


class QuickBooksKit:
    """The QuickBooks side of the platform contract suite."""

    @contextmanager
    def running(self) -> Iterator[_QuickBooksRun]:
        """The emulator on loopback, a company connected through OAuth."""
        with EmulatorServer(Emulator()) as server:
            yield _QuickBooksRun(server)
