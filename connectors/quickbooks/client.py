"""Calls to one QuickBooks company through python-quickbooks, made safe to run unattended.

python-quickbooks is synchronous, never refreshes tokens and knows nothing of rate
limits; this wraps it:

- per company at most 10 calls at once and 500 a minute;
- HTTP 429, throttle code 3001 and XML throttle bodies wait and retry;
- 401 refreshes the tokens once (refreshes of one company are serialised, and the
  rotated refresh token is handed to the token store before anything else happens);
- 5010 (stale object) re-reads through the caller's callback and retries once;
- 610 (not found) reads as None: the entity was deleted;
- anything else raises PlatformError, which the caller dead-letters with the reason.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from requests import Response

from connectors.limits import RateLimiter
from connectors.platform import (
    CALLS,
    AuthorizationError,
    PlatformError,
    Tokens,
    TokenStore,
    TransientPlatformError,
)
from connectors.quickbooks.schemas import qbo_json

__all__ = [
    "CALLS",
    "AuthorizationError",
    "PlatformError",
    "QuickBooksApi",
    "RateLimiter",
    "ThrottledError",
    "TokenStore",
    "Tokens",
    "TransientPlatformError",
]

T = TypeVar("T")


class ThrottledError(TransientPlatformError):
    """HTTP 429, code 3001 or an XML throttle body."""


class _ThrottleError(Exception):
    """HTTP 429 or a non-JSON (XML) body: QuickBooks is throttling."""


_HTTP = requests.Session()
_TIMEOUT_S = 60.0


class _Client(QuickBooks):  # type: ignore[misc]  # untyped base class
    """python-quickbooks with a timeout, that reports throttling before parsing JSON.

    Its own request path goes through requests-oauthlib, which has no timeout and
    refuses plain-HTTP URLs (the loopback emulator); the bearer header is all it adds.
    """

    def process_request(
        self, request_type: str, url: str, headers: Any = "", params: Any = "", data: Any = ""
    ) -> Response:
        headers = dict(headers or {})
        headers["Authorization"] = f"Bearer {self.auth_client.access_token}"
        response = _HTTP.request(
            request_type, url, headers=headers, params=params, data=data, timeout=_TIMEOUT_S
        )
        if response.status_code == 429 or response.text.lstrip().startswith("<"):
            raise _ThrottleError(response.status_code)
        return response


"""Calls to QuickBooks in this process, by outcome (ok, throttled, refreshed, error): metrics."""

_REFRESH_LOCKS: dict[str, threading.Lock] = collections.defaultdict(threading.Lock)
_LIMITERS: dict[tuple[str, int], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _limiter(realm_id: str, per_minute: int) -> RateLimiter:
    """One limiter per company (and limit) in this process, shared by every caller."""
    with _LIMITERS_LOCK:
        key = (realm_id, per_minute)
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(per_minute=per_minute)
        return _LIMITERS[key]


class QuickBooksApi:
    """One company's API: read, query, CDC and journal entries, with the rules above."""

    def __init__(
        self,
        realm_id: str,
        auth_client: Callable[[], AuthClient],
        tokens: TokenStore,
        *,
        minor_version: int = 75,
        api_base_url: str | None = None,
        throttle_wait_s: float = 60.0,
        throttle_attempts: int = 5,
        per_minute: int = 500,
    ) -> None:
        self.realm_id = realm_id
        self._auth_client = auth_client
        self._tokens = tokens
        self._minor_version = minor_version
        self._api_base_url = api_base_url
        self._throttle_wait_s = throttle_wait_s
        self._throttle_attempts = throttle_attempts
        self._limiter = _limiter(realm_id, per_minute)
        self._auth_cached: AuthClient | None = None

    def _auth(self) -> AuthClient:
        """One intuit-oauth client per API object: making one fetches Intuit's discovery
        document, which is not worth a request per call."""
        if self._auth_cached is None:
            self._auth_cached = self._auth_client()
        return self._auth_cached

    def _client(self) -> QuickBooks:
        held = self._tokens.load(self.realm_id)
        auth = self._auth()
        auth.access_token = held.access_token
        auth.refresh_token = held.refresh_token
        client = _Client(
            auth_client=auth,
            refresh_token=held.refresh_token,
            company_id=self.realm_id,
            minorversion=self._minor_version,
            use_decimal=True,
        )
        if self._api_base_url:
            client.api_url_v3 = client.sandbox_api_url_v3 = self._api_base_url
        return client

    def refresh(self, stale_access_token: str) -> None:
        """Refresh once per expiry: a caller that lost the race finds new tokens and stops."""
        with _REFRESH_LOCKS[self.realm_id]:
            held = self._tokens.load(self.realm_id)
            if held.access_token != stale_access_token:
                return  # another caller refreshed already
            auth = self._auth()
            try:
                auth.refresh(refresh_token=held.refresh_token)
            except AuthClientError as error:
                raise AuthorizationError(
                    f"QuickBooks refused to refresh the tokens of {self.realm_id} "
                    f"({error.status_code}): reconnect the company"
                ) from None
            now = datetime.now(UTC)
            self._tokens.save(  # a newer grant stored meanwhile is kept, not overwritten
                self.realm_id,
                replacing=held,
                tokens=Tokens(
                    access_token=str(auth.access_token),
                    refresh_token=str(auth.refresh_token),
                    access_expires_at=now + timedelta(seconds=int(auth.expires_in or 3600)),
                    refresh_expires_at=now
                    + timedelta(seconds=int(auth.x_refresh_token_expires_in or 8_726_400)),
                ),
            )

    def _call(
        self, work: Callable[[QuickBooks], T], on_stale: Callable[[], None] | None = None
    ) -> T:
        refreshed = stale_retried = False
        throttled = 0
        while True:
            client = self._client()
            try:
                with self._limiter:
                    result = work(client)
                CALLS["ok"] += 1
                return result
            except _ThrottleError:
                CALLS["throttled"] += 1
                throttled += 1
            except QuickbooksException as error:
                code = int(error.error_code or 0)
                if code == 3001:
                    CALLS["throttled"] += 1
                    throttled += 1
                elif code == 401 or (0 < code < 500 and "auth" in str(error.message).lower()):
                    if refreshed:
                        raise AuthorizationError(
                            f"still unauthorised after a refresh: {error.message}"
                        ) from None
                    CALLS["refreshed"] += 1
                    self.refresh(client.auth_client.access_token)
                    refreshed = True
                    continue
                elif code == 5010 and not stale_retried:
                    stale_retried = True
                    if on_stale:
                        on_stale()
                    continue
                else:
                    CALLS["error"] += 1
                    raise PlatformError(
                        f"QuickBooks error {code}: {error.message} {error.detail}".strip()
                    ) from None
            if throttled >= self._throttle_attempts:
                raise ThrottledError(f"throttled {throttled} times in a row; try later")
            time.sleep(self._throttle_wait_s)

    # ------------------------------------------------------------ calls
    def read(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        """The entity as QuickBooks has it now, or None when it no longer exists."""

        def work(client: QuickBooks) -> dict[str, Any] | None:
            try:
                result: dict[str, Any] = client.get_single_object(entity, entity_id)
            except QuickbooksException as error:
                if int(error.error_code or 0) == 610:
                    return None
                raise
            return dict(result[entity])

        return self._call(work)

    def query(self, statement: str) -> list[dict[str, Any]]:
        """Rows of a query (one page; the caller pages with STARTPOSITION/MAXRESULTS)."""

        def work(client: QuickBooks) -> list[dict[str, Any]]:
            response: dict[str, Any] = client.query(statement)["QueryResponse"]
            entity = next((k for k, v in response.items() if isinstance(v, list)), None)
            return list(response[entity]) if entity else []

        return self._call(work)

    def changes(self, entities: list[str], since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Change-data-capture: every entity of the given types changed after ``since``."""

        def work(client: QuickBooks) -> dict[str, list[dict[str, Any]]]:
            result: dict[str, Any] = client.change_data_capture(
                ",".join(entities), since.isoformat()
            )
            found: dict[str, list[dict[str, Any]]] = {name: [] for name in entities}
            for block in result.get("CDCResponse", []):
                for response in block.get("QueryResponse", []):
                    for name, rows in response.items():
                        if isinstance(rows, list):
                            found.setdefault(name, []).extend(rows)
            return found

        return self._call(work)

    def save(
        self,
        entity: str,
        body: dict[str, Any],
        refresh: Callable[[], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create (no ``Id``) or fully update (``Id`` + ``SyncToken``) an entity.

        On a stale ``SyncToken`` (5010) ``refresh`` is asked for the body again, made
        from a fresh read, and the write is retried once.
        """
        current = {"body": body}

        def work(client: QuickBooks) -> dict[str, Any]:
            data = qbo_json(current["body"])
            if current["body"].get("Id"):
                result: dict[str, Any] = client.update_object(entity, data)
            else:
                result = client.create_object(entity, data)
            return dict(result[entity])

        def on_stale() -> None:
            if refresh is not None:
                current["body"] = refresh()

        return self._call(work, on_stale if refresh is not None else None)

    def report(self, name: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """A report (``reports/TrialBalance`` …) as QuickBooks answers it."""

        def work(client: QuickBooks) -> dict[str, Any]:
            return dict(client.get_report(name, qs=params or {}))

        return self._call(work)

    def invoice_pdf(self, invoice_id: str) -> bytes | None:
        """The invoice as QuickBooks renders it (``GET …/invoice/{id}/pdf``); None if gone."""

        def work(client: QuickBooks) -> bytes | None:
            url = f"{client.api_url}/company/{self.realm_id}/invoice/{invoice_id}/pdf"
            response = client.process_request(
                "GET",
                url,
                headers={"Accept": "application/pdf, application/json"},
                params={"minorversion": str(self._minor_version)},
            )
            if response.status_code == 200 and response.content.startswith(b"%PDF"):
                return bytes(response.content)
            if response.status_code == 401:
                raise QuickbooksException("unauthorised", 401, response.text[:200])
            if "610" in response.text or response.status_code == 404:
                return None  # Object Not Found: the invoice was deleted
            raise QuickbooksException("no PDF", response.status_code, response.text[:200])

        return self._call(work)

    def create_journal_entry(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post a journal entry; returns it as stored (with its QuickBooks id)."""

        def work(client: QuickBooks) -> dict[str, Any]:
            result: dict[str, Any] = client.create_object("JournalEntry", qbo_json(body))
            return dict(result["JournalEntry"])

        return self._call(work)
