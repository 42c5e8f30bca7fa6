"""Calls to one Xero organisation over httpx, made safe to run unattended.

- per organisation at most 5 calls at once and 60 a minute (Xero's limits; settings);
- 429 waits exactly ``Retry-After`` seconds and tries again (up to the patience set in
  ``xero.max_retry_after_s``); when the **day** limit is spent (``X-DayLimit-Remaining``
  0, or a 429 saying so) no call is made for that organisation until it resets, and
  ``connectors.platform.PAUSED`` says so for readiness and status;
- 401 refreshes the tokens once: one refresh at a time per grant, and the rotated
  refresh token is handed to the token store before it is ever used;
- 5xx and network errors are retried with backoff, then fail as transient;
- 404 reads as None: the resource is not there.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from connectors.limits import RateLimiter
from connectors.platform import (
    CALLS,
    PAUSED,
    AuthorizationError,
    PlatformError,
    Tokens,
    TokenStore,
    TransientPlatformError,
)
from connectors.xero.settings import XeroSettings

__all__ = [
    "DayLimitError",
    "RateLimiter",
    "ThrottledError",
    "XeroApi",
    "encode",
    "refresh_tokens",
]

_REFRESH_LOCKS: dict[str, threading.Lock] = collections.defaultdict(threading.Lock)
_LIMITERS: dict[tuple[str, int, int], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()
_DAY_PAUSE_UNKNOWN = timedelta(hours=1)  # remaining 0 without a Retry-After: probe hourly
_REFRESH_LIFETIME = timedelta(days=60)  # a refresh token dies after 60 days unused
PLATFORM = "xero"


class ThrottledError(TransientPlatformError):
    """429 with a Retry-After longer than we wait, or too many in a row."""


class DayLimitError(TransientPlatformError):
    """The organisation's 5,000 calls a day are spent: nothing is called until reset."""


_HTTP: list[httpx.Client] = []
_HTTP_LOCK = threading.Lock()


def _http() -> httpx.Client:
    """One connection pool for every call in this process (made on first use)."""
    with _HTTP_LOCK:
        if not _HTTP:
            _HTTP.append(httpx.Client(limits=httpx.Limits(max_connections=50)))
        return _HTTP[0]


def _limiter(tenant: str, concurrent: int, per_minute: int) -> RateLimiter:
    with _LIMITERS_LOCK:
        key = (tenant, concurrent, per_minute)
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(concurrent, per_minute)
        return _LIMITERS[key]


def encode(body: Any) -> bytes:
    """JSON for Xero: Decimals as numbers (two places survive a float's shortest repr)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(f"{type(value).__name__} is not JSON")

    return json.dumps(body, default=default).encode()


def refresh_tokens(settings: XeroSettings, refresh_token: str) -> Tokens:
    """Trade a refresh token for new tokens (the old refresh token is spent)."""
    if not settings.client_id or settings.client_secret is None:
        raise PlatformError("set xero.client_id and xero.client_secret first")
    try:
        response = httpx.post(
            f"{settings.identity_url.rstrip('/')}/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(settings.client_id, settings.client_secret.get_secret_value()),
            timeout=settings.timeout_s,
        )
    except httpx.HTTPError as error:
        raise TransientPlatformError(f"Xero identity unreachable: {type(error).__name__}") from None
    if response.status_code in (400, 401):
        raise AuthorizationError(
            f"Xero refused to refresh the tokens ({response.status_code}): reconnect"
        )
    if response.status_code != 200:
        raise TransientPlatformError(f"Xero identity answered {response.status_code}")
    return tokens_from(response.json())


def tokens_from(data: Mapping[str, Any]) -> Tokens:
    """Tokens from a token endpoint answer (access 30 min, refresh 60 days unused)."""
    now = datetime.now(UTC)
    return Tokens(
        access_token=str(data["access_token"]),
        refresh_token=str(data["refresh_token"]),
        access_expires_at=now + timedelta(seconds=int(data.get("expires_in") or 1800)),
        refresh_expires_at=now + _REFRESH_LIFETIME,
    )


class XeroApi:
    """One organisation's Accounting API, with the rules above."""

    def __init__(
        self,
        tenant_id: str,
        tokens: TokenStore,
        settings: XeroSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: tuple[float, ...] = (0.5, 1.0, 2.0),
        throttle_attempts: int = 5,
    ) -> None:
        self.tenant_id = tenant_id
        self._tokens = tokens
        self._settings = settings
        self._sleep = sleep
        self._backoff = backoff
        self._throttle_attempts = throttle_attempts
        self._limiter = _limiter(tenant_id, settings.concurrent_calls, settings.calls_per_minute)
        self._base = f"{settings.api_url.rstrip('/')}/api.xro/2.0"
        self._timeout = settings.timeout_s

    # ------------------------------------------------------------ tokens
    def refresh(self, stale_access_token: str) -> None:
        """Refresh once per expiry, the rotated tokens stored before anything uses them:
        one refresh at a time per organisation in this process (a lock) and across
        processes (the token store's ``rotate``); a caller that lost the race finds the
        new tokens and stops."""
        spent: list[str] = []

        def trade(held: Tokens) -> Tokens:
            spent.append(held.refresh_token)
            return refresh_tokens(self._settings, held.refresh_token)

        with _REFRESH_LOCKS[self.tenant_id]:
            try:
                self._tokens.rotate(self.tenant_id, stale_access_token, trade)
            except AuthorizationError:
                if spent and self._tokens.load(self.tenant_id).refresh_token != spent[0]:
                    return  # rotated by someone else meanwhile: its tokens are current
                raise

    def _access_token(self) -> str:
        held = self._tokens.load(self.tenant_id)
        if held.access_expires_at <= datetime.now(UTC) + timedelta(seconds=30):
            self.refresh(held.access_token)
            held = self._tokens.load(self.tenant_id)
        return held.access_token

    # ------------------------------------------------------------ limits
    def _check_paused(self) -> None:
        until = PAUSED.get((PLATFORM, self.tenant_id))
        if until is not None:
            if until > datetime.now(UTC):
                raise DayLimitError(
                    f"Xero's day limit for {self.tenant_id} is spent until {until:%H:%M} UTC"
                )
            PAUSED.pop((PLATFORM, self.tenant_id), None)

    def _note_limits(self, response: httpx.Response) -> None:
        if response.headers.get("X-DayLimit-Remaining", "").strip() == "0":
            wait = _retry_after(response)
            pause = timedelta(seconds=wait) if wait is not None else _DAY_PAUSE_UNKNOWN
            PAUSED[(PLATFORM, self.tenant_id)] = datetime.now(UTC) + pause

    # ------------------------------------------------------------ calls
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: str = "application/json",
    ) -> httpx.Response | None:
        """One call under the rules above: the response (2xx), or None for a 404."""
        refreshed, throttled, failures = False, 0, 0
        while True:
            self._check_paused()
            token = self._access_token()
            sent = {
                "Authorization": f"Bearer {token}",
                "xero-tenant-id": self.tenant_id,
                "Accept": accept,
                **(headers or {}),
            }
            content = None
            if body is not None:
                content, sent["Content-Type"] = encode(body), "application/json"
            try:
                with self._limiter:
                    response = _http().request(
                        method,
                        f"{self._base}/{path}",
                        params=params,
                        content=content,
                        headers=sent,
                        timeout=self._timeout,
                    )
            except httpx.HTTPError as error:
                response, problem = None, type(error).__name__
            if response is not None:
                self._note_limits(response)
                status = response.status_code
                if status < 300:
                    CALLS["ok"] += 1
                    return response
                if status == 404:
                    CALLS["ok"] += 1
                    return None
                if status == 401:
                    if refreshed:
                        raise AuthorizationError(f"Xero still answers 401 for {self.tenant_id}")
                    CALLS["refreshed"] += 1
                    self.refresh(token)
                    refreshed = True
                    continue
                if status == 429:
                    CALLS["throttled"] += 1
                    throttled += 1
                    self._throttled(response, throttled)
                    continue
                if status < 500:
                    CALLS["error"] += 1
                    raise PlatformError(f"Xero answered {status}: {response.text[:300]}")
                problem = f"HTTP {status}"
            failures += 1
            if failures > len(self._backoff):
                CALLS["error"] += 1
                raise TransientPlatformError(f"Xero unavailable ({problem}); try later")
            self._sleep(self._backoff[failures - 1])

    def _throttled(self, response: httpx.Response, times: int) -> None:
        """Wait out a 429 exactly as long as Xero says, or give up for later."""
        wait = _retry_after(response) or 60.0
        day = response.headers.get("X-Rate-Limit-Problem", "").lower() == "day"
        if day or response.headers.get("X-DayLimit-Remaining", "").strip() == "0":
            PAUSED[(PLATFORM, self.tenant_id)] = datetime.now(UTC) + timedelta(seconds=wait)
            raise DayLimitError(f"Xero's day limit for {self.tenant_id} is spent")
        if wait > self._settings.max_retry_after_s or times >= self._throttle_attempts:
            raise ThrottledError(f"Xero asks to wait {wait:.0f} s (throttled {times} times)")
        self._sleep(wait)

    def get(
        self, path: str, params: Mapping[str, str] | None = None, since: datetime | None = None
    ) -> dict[str, Any] | None:
        """A JSON read (money as Decimal); ``since`` sends If-Modified-Since (UTC)."""
        headers = {}
        if since is not None:
            headers["If-Modified-Since"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        response = self.request("GET", path, params=params, headers=headers)
        if response is None:
            return None
        found: dict[str, Any] = json.loads(response.text or "{}", parse_float=Decimal)
        return found

    def one(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        """``GET {collection}/{id}``: the resource, or None when Xero has none."""
        found = self.get(f"{collection}/{resource_id}")
        rows = (found or {}).get(collection) or []
        return dict(rows[0]) if rows else None

    def modified(self, collection: str, since: datetime | None) -> list[dict[str, Any]]:
        """Every row of ``collection`` modified since ``since``, pages of 100 read in turn."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            found = self.get(collection, {"page": str(page)}, since) or {}
            batch = list(found.get(collection) or [])
            rows += batch
            if len(batch) < 100:
                return rows
            page += 1

    def put(self, collection: str, body: Any, idempotency_key: str) -> dict[str, Any]:
        """``PUT {collection}`` with an Idempotency-Key: a retry never creates twice."""
        return self.put_many(collection, body, idempotency_key)[0]

    def put_many(self, collection: str, body: Any, idempotency_key: str) -> list[dict[str, Any]]:
        """``PUT {collection}`` of several rows at once: what Xero made, in order."""
        response = self.request(
            "PUT", collection, body=body, headers={"Idempotency-Key": idempotency_key[:128]}
        )
        if response is None:
            raise PlatformError(f"Xero has no {collection}")
        rows = json.loads(response.text, parse_float=Decimal).get(collection) or []
        if not rows:
            raise PlatformError(f"Xero answered no {collection}")
        return [dict(row) for row in rows]

    def invoice_pdf(self, invoice_id: str) -> bytes | None:
        """The invoice as Xero renders it (``Accept: application/pdf``), or None."""
        response = self.request("GET", f"Invoices/{invoice_id}", accept="application/pdf")
        if response is None or not response.content.startswith(b"%PDF"):
            return None
        return bytes(response.content)


def _retry_after(response: httpx.Response) -> float | None:
    text = response.headers.get("Retry-After", "").strip()
    try:
        return float(text) if text else None
    except ValueError:
        return None
