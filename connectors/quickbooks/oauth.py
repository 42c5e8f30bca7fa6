"""Connecting a company: Intuit's authorize redirect, the code exchange, revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from connectors.quickbooks.client import PlatformError, Tokens

__all__ = ["authorization_url", "exchange_code", "revoke"]


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
