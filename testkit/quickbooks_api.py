"""Test helpers for the QuickBooks connector: a token store in memory, a connected emulator."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs, urlparse

import httpx
from intuitlib.client import AuthClient

from connectors.quickbooks.client import AuthorizationError, QuickBooksApi, Tokens
from connectors.quickbooks.oauth import authorization_url, exchange_code
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer

__all__ = [
    "MemoryCheckpoints",
    "MemoryPaymentLinks",
    "MemoryTokenStore",
    "auth_client_for",
    "connect_company",
]

REDIRECT_URI = "http://127.0.0.1:8080/callback/quickbooks"


class MemoryTokenStore:
    """Tokens per realm in a dict; ``saves`` counts rotations."""

    def __init__(self) -> None:
        self.tokens: dict[str, Tokens] = {}
        self.saves = 0
        self._lock = threading.Lock()

    def load(self, realm_id: str) -> Tokens:
        if realm_id not in self.tokens:
            raise AuthorizationError(f"company {realm_id} is not connected")
        return self.tokens[realm_id]

    def save(self, realm_id: str, tokens: Tokens, replacing: Tokens | None = None) -> bool:
        held = self.tokens.get(realm_id)
        if replacing is not None and (
            held is None or held.refresh_token != replacing.refresh_token
        ):
            return False
        self.tokens[realm_id] = tokens
        self.saves += 1
        return True

    def rotate(
        self, realm_id: str, stale_access_token: str, refresh: Callable[[Tokens], Tokens]
    ) -> None:
        with self._lock:
            held = self.load(realm_id)
            if held.access_token == stale_access_token:
                self.tokens[realm_id] = refresh(held)
                self.saves += 1


def auth_client_for(server: EmulatorServer) -> AuthClient:
    """intuit-oauth pointed at the emulator through its discovery document."""
    emulator: Emulator = server.emulator
    return AuthClient(
        emulator.client_id, emulator.client_secret, REDIRECT_URI, environment=server.discovery_url
    )


def connect_company(
    server: EmulatorServer, realm_id: str, store: MemoryTokenStore, **options: object
) -> QuickBooksApi:
    """Run the OAuth flow against the emulator as a browser would, return the company's API."""
    auth = auth_client_for(server)
    url = authorization_url(auth, state="csrf-test") + f"&realm={realm_id}"
    redirect = httpx.get(url, follow_redirects=False)
    query = parse_qs(urlparse(redirect.headers["location"]).query)
    assert query["state"] == ["csrf-test"]
    store.save(realm_id, exchange_code(auth_client_for(server), query["code"][0], realm_id))
    return QuickBooksApi(
        realm_id,
        lambda: auth_client_for(server),
        store,
        api_base_url=server.api_url_v3,
        **options,  # type: ignore[arg-type]
    )


class MemoryCheckpoints:
    """CDC checkpoints in a dict."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, str], datetime] = {}

    def get(self, realm_id: str, entity: str) -> datetime | None:
        return self.points.get((realm_id, entity))

    def set(self, realm_id: str, entity: str, since: datetime) -> None:
        self.points[(realm_id, entity)] = since


class MemoryPaymentLinks:
    """Payment → invoices links in a dict."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str], set[str]] = {}

    def invoices(self, realm_id: str, payment_id: str) -> set[str]:
        return set(self.links.get((realm_id, payment_id), set()))

    def remember(self, realm_id: str, payment_id: str, invoice_ids: set[str]) -> None:
        self.links[(realm_id, payment_id)] = set(invoice_ids)
