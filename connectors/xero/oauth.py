"""Connecting an organisation: Xero's consent page, the code exchange, /connections, revocation.

Xero's callback names no organisation: one grant may reach several (the user ticks
them on the consent page), and ``GET /connections`` with the new access token lists
the tenant ids it reaches. forwardflow stores a grant for one organisation only (the
wiring picks one not yet connected), so two organisations never share — and never
race to rotate — one refresh token: connecting another runs the flow again, which
gives it a grant of its own.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.platform import GrantMismatchError, PlatformError, Tokens, TransientPlatformError
from connectors.xero.client import refresh_tokens, tokens_from
from connectors.xero.schemas import TENANT_ID
from connectors.xero.settings import XeroSettings

__all__ = [
    "authorization_url",
    "connections",
    "disconnect",
    "exchange_code",
    "revoke",
    "valid_tenant",
]

_TENANT = re.compile(TENANT_ID)


def valid_tenant(tenant_id: str) -> bool:
    """True for a Xero tenant id (a GUID)."""
    return bool(_TENANT.fullmatch(tenant_id))


def _client(settings: XeroSettings) -> tuple[str, str]:
    if not settings.client_id or settings.client_secret is None:
        raise PlatformError("set xero.client_id and xero.client_secret first")
    return settings.client_id, settings.client_secret.get_secret_value()


def authorization_url(settings: XeroSettings, state: str) -> str:
    """Xero's consent page for the configured scopes, carrying our CSRF state."""
    client_id, _ = _client(settings)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": settings.redirect_uri,
            "scope": settings.scopes,
            "state": state,
        }
    )
    return f"{settings.login_url.rstrip('/')}/identity/connect/authorize?{query}"


def exchange_code(settings: XeroSettings, code: str) -> Tokens:
    """Trade the authorization code for the grant's first tokens."""
    try:
        response = httpx.post(
            f"{settings.identity_url.rstrip('/')}/connect/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": settings.redirect_uri,
            },
            auth=_client(settings),
            timeout=settings.timeout_s,
        )
    except httpx.HTTPError as error:
        raise TransientPlatformError(f"Xero identity unreachable: {type(error).__name__}") from None
    if response.status_code != 200:
        raise PlatformError(f"Xero refused the authorization code ({response.status_code})")
    return tokens_from(response.json())


def _auth_event(access_token: str) -> str | None:
    """The ``authentication_event_id`` claim of Xero's JWT access token, if it is one."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    event = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return str(event) if event else None


def connections(settings: XeroSettings, access_token: str) -> list[dict[str, Any]]:
    """The organisations this grant reaches (``GET /connections``, this grant's only)."""
    try:
        response = httpx.get(
            f"{settings.api_url.rstrip('/')}/connections",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=settings.timeout_s,
        )
    except httpx.HTTPError as error:
        raise TransientPlatformError(f"Xero unreachable: {type(error).__name__}") from None
    if response.status_code in (401, 403):
        raise GrantMismatchError("Xero refused the new tokens reading /connections")
    if response.status_code != 200:
        raise TransientPlatformError(f"Xero /connections answered {response.status_code}")
    event = _auth_event(access_token)
    return [
        row
        for row in response.json()
        if isinstance(row, dict)
        and row.get("tenantType", "ORGANISATION") == "ORGANISATION"
        and valid_tenant(str(row.get("tenantId", "")))
        and (event is None or row.get("authEventId") in (None, event))
    ]


def revoke(settings: XeroSettings, refresh_token: str) -> None:
    """Revoke the grant (its refresh token and every access token made from it)."""
    try:
        response = httpx.post(
            f"{settings.identity_url.rstrip('/')}/connect/revocation",
            data={"token": refresh_token},
            auth=_client(settings),
            timeout=settings.timeout_s,
        )
    except httpx.HTTPError as error:
        raise TransientPlatformError(f"Xero identity unreachable: {type(error).__name__}") from None
    if response.status_code != 200:
        raise PlatformError(f"Xero refused the revocation ({response.status_code})")


def disconnect(settings: XeroSettings, tenant_id: str, tokens: Tokens) -> None:
    """Remove the grant's connection to one organisation (``DELETE /connections/{id}``);
    revoke the grant itself only when it reaches nothing else, since Xero's revocation
    removes every connection made with it."""
    if tokens.access_expires_at <= datetime.now(UTC) + timedelta(seconds=30):
        tokens = refresh_tokens(settings, tokens.refresh_token)  # this row is being forgotten
    rows = connections(settings, tokens.access_token)
    for row in rows:
        if row.get("tenantId") != tenant_id:
            continue
        try:
            response = httpx.delete(
                f"{settings.api_url.rstrip('/')}/connections/{row['id']}",
                headers={"Authorization": f"Bearer {tokens.access_token}"},
                timeout=settings.timeout_s,
            )
        except httpx.HTTPError as error:
            raise TransientPlatformError(f"Xero unreachable: {type(error).__name__}") from None
        if response.status_code not in (200, 204, 404):
            raise PlatformError(f"Xero refused to remove the connection ({response.status_code})")
    if all(row.get("tenantId") == tenant_id for row in rows):
        revoke(settings, tokens.refresh_token)
