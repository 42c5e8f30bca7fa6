"""Connecting a company in tests and the demo, the way an operator and a browser do."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from connectors.quickbooks.client import QuickBooksApi
from connectors.quickbooks.platform import QuickBooks
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.connect import mint_link
from forwardflow.wired import WiredPlatform

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
