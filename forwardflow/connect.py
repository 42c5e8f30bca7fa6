"""Who may connect a company: single-use signed links, state bound to the browser.

Connecting a company hands forwardflow the keys to its books, so the flow never starts
from an open URL. An operator on the server runs ``forwardflow <platform> connect``,
which records a link (random id, expiry, the company it may reconnect) and prints it
signed with a key derived from ``secret_key``. Opening the link uses it up: the service
makes a random OAuth ``state`` and a random browser secret, stores only their SHA-256,
sets the secret as an HttpOnly cookie and redirects to Intuit. The callback must bring
back a known state, from the browser holding the cookie, once. Everything else (the
company id's format, whose token it is, reconnecting the same company) is checked by
the callback before anything is stored. Written once for every platform.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from forwardflow.bootstrap import Forwardflow
from forwardflow.secrets import derived_key
from forwardflow.wired import WiredPlatform

__all__ = [
    "BROWSER_COOKIE",
    "ConnectFlow",
    "LinkRefusedError",
    "begin_flow",
    "finish_flow",
    "mint_link",
    "record_outcome",
]

BROWSER_COOKIE = "ff_connect"
_PURPOSE = "connect-link"
_MAX_MINUTES = 24 * 60


class LinkRefusedError(Exception):
    """The link or callback does not belong to a flow an operator started (or it is over)."""


@dataclass(frozen=True, slots=True)
class ConnectFlow:
    """A link that was opened: what the callback may connect."""

    link_id: str
    platform: str
    company_id: str | None  # set: only this company may come back (a reconnect)
    expires_at: datetime


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _signature(app: Forwardflow, payload: str) -> str:
    mac = hmac.new(derived_key(app.settings, _PURPOSE), payload.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def service_origin(wired: WiredPlatform) -> str:
    """Where the browser reaches the service: the origin of the registered redirect URI."""
    parts = urlsplit(wired.platform.redirect_uri(wired))
    return f"{parts.scheme}://{parts.netloc}"


def mint_link(
    wired: WiredPlatform,
    *,
    company_id: str | None = None,
    minutes: float = 15,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """Record a single-use connect link and return its URL and expiry.

    ``company_id`` makes it a reconnect: the grant must be for that company.
    """
    if not 0 < minutes <= _MAX_MINUTES:
        raise ValueError(f"a link lives between a minute and {_MAX_MINUTES // 60} hours")
    now = now or datetime.now(UTC)
    link_id = secrets.token_urlsafe(18)
    expires = now + timedelta(minutes=minutes)
    app, platform = wired.app, wired.name
    with app.unit_of_work() as uow:
        uow.connect_links.add(link_id, platform, company_id, expires)
        uow.commit()
    payload = f"{link_id}.{int(expires.timestamp())}"
    signed = _signature(app, f"{platform}:{company_id or ''}:{payload}")
    token = f"{payload}.{signed}"
    return f"{service_origin(wired)}/connect/{platform}?link={token}", expires


def begin_flow(
    app: Forwardflow, platform: str, token: str, now: datetime | None = None
) -> tuple[ConnectFlow, str, str]:
    """Use up a link: (the flow, the OAuth state, the browser secret for the cookie).

    Raises LinkRefusedError for a forged, expired, unknown or already opened link; the
    reason is logged, the browser is only told to ask for a new link.
    """
    now = now or datetime.now(UTC)
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 200:
        raise LinkRefusedError("not a connect link")
    link_id, expiry, signature = parts
    with app.unit_of_work() as uow:
        link = uow.connect_links.get(link_id)
        if link is None or link.platform != platform:
            raise LinkRefusedError("no such link")
        expected = _signature(app, f"{platform}:{link.company_id or ''}:{link_id}.{expiry}")
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise LinkRefusedError("the link's signature does not match")
        if link.expires_at <= now or str(int(link.expires_at.timestamp())) != expiry:
            raise LinkRefusedError("the link has expired")
        state, browser = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        if not uow.connect_links.open(link_id, now, _digest(state), _digest(browser)):
            raise LinkRefusedError("the link was used already")
        uow.commit()
    return ConnectFlow(link_id, platform, link.company_id, link.expires_at), state, browser


def finish_flow(
    app: Forwardflow,
    platform: str,
    state: str,
    browser: str | None,
    now: datetime | None = None,
) -> ConnectFlow:
    """The flow a callback belongs to, closed so that it cannot be finished twice.

    The state must be one this service made, not yet finished nor expired, and the
    request must come from the browser that opened the link (its cookie).
    """
    now = now or datetime.now(UTC)
    if not state or len(state) > 200:
        raise LinkRefusedError("unknown or expired state (CSRF check)")
    with app.unit_of_work() as uow:
        link = uow.connect_links.by_state(_digest(state))
        if link is None or link.platform != platform or link.finished_at is not None:
            raise LinkRefusedError("unknown or expired state (CSRF check)")
        if link.expires_at <= now:
            raise LinkRefusedError("unknown or expired state (CSRF check)")
        if not browser or not hmac.compare_digest(
            _digest(browser).encode(), str(link.browser_digest).encode()
        ):
            raise LinkRefusedError("this browser did not open the connect link")
        if not uow.connect_links.finish(link.id, now):
            raise LinkRefusedError("unknown or expired state (CSRF check)")
        uow.commit()
    return ConnectFlow(link.id, platform, link.company_id, link.expires_at)


def record_outcome(app: Forwardflow, link_id: str, outcome: str) -> None:
    """What became of a finished flow (connected, or why not), for the operator."""
    with app.unit_of_work() as uow:
        uow.connect_links.record_outcome(link_id, outcome)
        uow.commit()
