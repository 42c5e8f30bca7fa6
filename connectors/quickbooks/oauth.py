"""Connecting a company: Intuit's authorize redirect, the code exchange, revocation.

Intuit's callback names the company (``realmId``) in the query string, where anyone can
change it; the token response does not say which company it is for. So the grant is
proved by reading the named company's ``CompanyInfo`` with the new access token: a
token for another company is refused there (401/403), and nothing is stored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from connectors.platform import GrantMismatchError, PlatformError, Tokens, TransientPlatformError
from connectors.quickbooks.schemas import REALM_ID

__all__ = [
    "GrantMismatchError",
    "api_url_v3",
    "authorization_url",
    "exchange_code",
    "revoke",
    "valid_realm",
    "verify_grant",
]

_API_URLS = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3",
    "production": "https://quickbooks.api.intuit.com/v3",
}
_REALM = re.compile(REALM_ID)


def valid_realm(realm_id: str) -> bool:
    """True for a QuickBooks company id (digits only, at most 20)."""
    return bool(_REALM.fullmatch(realm_id))


def api_url_v3(environment: str, override: str | None = None) -> str:
    """The v3 API base URL for an environment (or the configured override)."""
    return (override or _API_URLS[environment]).rstrip("/")


def verify_grant(
    tokens: Tokens, realm_id: str, api_url: str, minor_version: int = 75, timeout: float = 30
) -> None:
    """Raise GrantMismatchError unless ``tokens`` read company ``realm_id``'s CompanyInfo."""
    if not valid_realm(realm_id):
        raise GrantMismatchError(f"{realm_id[:40]!r} is not a QuickBooks company id")
    try:
        response = requests.get(
            f"{api_url}/company/{realm_id}/companyinfo/{realm_id}",
            params={"minorversion": str(minor_version)},
            headers={
                "Authorization": f"Bearer {tokens.access_token}",
                "Accept": "application/json",
            },
            timeout=timeout,
        )
    except requests.RequestException as error:
        raise TransientPlatformError(f"QuickBooks unreachable: {type(error).__name__}") from None
    if response.status_code in (401, 403):
        raise GrantMismatchError(f"the grant is not for company {realm_id}")
    if response.status_code != 200:
        raise TransientPlatformError(f"QuickBooks answered {response.status_code}")
    try:
        found = str(response.json()["CompanyInfo"]["Id"])
    except (ValueError, KeyError, TypeError):
        raise TransientPlatformError("QuickBooks' CompanyInfo answer is unreadable") from None
    if found != realm_id:
        raise GrantMismatchError(f"the grant is for company {found[:40]}, not {realm_id}")


def authorization_url(auth: AuthClient, state: str) -> str:
    """Where to send the user to grant access (accounting scope), carrying our CSRF state."""
    return str(auth.get_authorization_url([Scopes.ACCOUNTING], state_token=state))


def _tokens(auth: AuthClient) -> Tokens:
    now = datetime.now(UTC)
    return Tokens(
        access_token=str(auth.access_token),
        refresh_token=str(auth.refresh_token),
        access_expires_at=now + timedelta(seconds=int(auth.expires_in or 3600)),
        refresh_expires_at=now + timedelta(seconds=int(auth.x_refresh_token_expires_in or 0)),
    )


def exchange_code(auth: AuthClient, code: str, realm_id: str) -> Tokens:
    """Trade the authorization code for the company's first tokens."""
    try:
        auth.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as error:
        raise PlatformError(
            f"Intuit refused the authorization code ({error.status_code})"
        ) from None
    return _tokens(auth)


def revoke(auth: AuthClient, refresh_token: str) -> None:
    """Revoke the company's grant (its refresh token and every access token)."""
    try:
        auth.revoke(token=refresh_token)
    except AuthClientError as error:
        raise PlatformError(f"Intuit refused the revocation ({error.status_code})") from None
