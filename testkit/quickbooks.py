"""Connecting a company in tests and the demo, the way an operator and a browser do."""

from __future__ import annotations

import asyncio

import httpx

from forwardflow.bootstrap import Forwardflow
from forwardflow.connect import mint_link
from forwardflow.quickbooks import PLATFORM

__all__ = ["connect_in_browser"]


async def connect_in_browser(
    app: Forwardflow, company: str | None = None, browser: httpx.AsyncClient | None = None
) -> httpx.Response:
    """Mint a link (``forwardflow quickbooks connect``) and follow it in a browser.

    The browser (an httpx client keeping cookies) goes to the service, on to Intuit (the
    emulator grants at once) and back to the callback; the callback's answer is returned.
    """
    link, _ = await asyncio.to_thread(
        lambda: mint_link(app, PLATFORM, company_id=company, minutes=5)
    )
    if browser is not None:
        return await browser.get(link, follow_redirects=True)
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:
        return await client.get(link)
