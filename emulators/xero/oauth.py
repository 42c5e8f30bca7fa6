"""The emulator's Xero identity: consent, tokens that rotate, revocation, ``/connections``.

As at Xero: access tokens last 30 minutes, every refresh returns a new refresh token
and spends the old one — a spent refresh token used again is refused with
``invalid_grant`` (after ``refresh_grace_seconds``, 0 by default) and counted in
``reused_refresh_tokens``, so a test can prove forwardflow never does it.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Identity"]


@dataclass
class _Grant:
    grant_id: str
    tenants: list[str]
    auth_event: str = field(default_factory=lambda: str(uuid.uuid4()))
    connections: dict[str, str] = field(default_factory=dict)  # tenant → connection id


@dataclass
class Identity:
    """Grants, codes and tokens of one Xero app."""

    client_id: str = "emulator-xero-client"
    client_secret: str = "emulator-xero-secret"  # noqa: S105 - a fixed test credential
    access_token_seconds: int = 1800
    refresh_grace_seconds: float = 0.0
    refreshes: int = 0
    reused_refresh_tokens: int = 0
    grants: dict[str, _Grant] = field(default_factory=dict)
    _codes: dict[str, str] = field(default_factory=dict)
    _access: dict[str, tuple[str, float]] = field(default_factory=dict)  # token → grant, until
    _refresh: dict[str, str] = field(default_factory=dict)  # live refresh token → grant
    _spent: dict[str, tuple[str, float]] = field(default_factory=dict)  # spent → grant, when
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client_ok(self, header: str) -> bool:
        """HTTP Basic with the app's id and secret."""
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return secrets.compare_digest(header, f"Basic {expected}")

    def consent(self, tenants: list[str]) -> str:
        """The user ticked these organisations: a one-time code for a new grant."""
        grant = _Grant(str(uuid.uuid4()), list(tenants))
        grant.connections = {t: str(uuid.uuid4()) for t in tenants}
        code = secrets.token_urlsafe(16)
        with self._lock:
            self.grants[grant.grant_id] = grant
            self._codes[code] = grant.grant_id
        return code

    def _issue(self, grant_id: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._access[access] = (grant_id, time.time() + self.access_token_seconds)
        self._refresh[refresh] = grant_id
        return {
            "id_token": "emulator",
            "access_token": access,
            "expires_in": self.access_token_seconds,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": "offline_access accounting.transactions accounting.contacts",
        }

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint: (status, JSON answer)."""
        with self._lock:
            kind = form.get("grant_type")
            if kind == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                return (200, self._issue(grant)) if grant else (400, {"error": "invalid_grant"})
            if kind != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            token = form.get("refresh_token", "")
            grant = self._refresh.pop(token, None)
            if grant is None and token in self._spent:
                self.reused_refresh_tokens += 1
                held, spent_at = self._spent[token]
                if time.time() - spent_at <= self.refresh_grace_seconds:
                    grant = held
            if grant is None or grant not in self.grants:
                return 400, {"error": "invalid_grant"}
            self._spent[token] = (grant, time.time())
            self.refreshes += 1
            return 200, self._issue(grant)

    def revoke(self, token: str) -> None:
        """Revoke the grant of a refresh token: every token of it stops working."""
        with self._lock:
            grant = self._refresh.pop(token, None)
            if grant is not None:
                self.grants.pop(grant, None)
                self._access = {t: v for t, v in self._access.items() if v[0] != grant}

    def grant_of(self, authorization: str) -> _Grant | None:
        """The live grant of a ``Bearer`` access token, if any."""
        token = authorization.removeprefix("Bearer ").strip()
        held = self._access.get(token)
        if held is None or held[1] <= time.time():
            return None
        return self.grants.get(held[0])

    def connections(self, grant: _Grant) -> list[dict[str, Any]]:
        """``GET /connections``: the organisations the grant reaches."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "")
        return [
            {
                "id": grant.connections[tenant],
                "authEventId": grant.auth_event,
                "tenantId": tenant,
                "tenantType": "ORGANISATION",
                "tenantName": tenant,
                "createdDateUtc": stamp,
                "updatedDateUtc": stamp,
            }
            for tenant in grant.tenants
        ]

    def disconnect(self, grant: _Grant, connection_id: str) -> bool:
        """``DELETE /connections/{id}``: the grant no longer reaches that organisation."""
        with self._lock:
            for tenant, held in list(grant.connections.items()):
                if held == connection_id:
                    grant.tenants.remove(tenant)
                    del grant.connections[tenant]
                    return True
        return False

    def expire_access_tokens(self) -> None:
        """Make every access token stale (as half an hour passing would)."""
        with self._lock:
            self._access = {t: (g, 0.0) for t, (g, _) in self._access.items()}
