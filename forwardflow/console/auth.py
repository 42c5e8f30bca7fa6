"""Who is asking: the session cookie, sign-in throttling and the role each action needs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from forwardflow.bootstrap import Forwardflow
from forwardflow.console.store import Role, Session, session_of

__all__ = [
    "SESSION_COOKIE",
    "Throttle",
    "current_session",
    "secure_request",
    "set_session_cookie",
]

SESSION_COOKIE = "ff_console"

ACTIONS: dict[str, frozenset[Role]] = {
    "read": frozenset(Role),
    "control": frozenset({Role.CONTROLLER}),
    "operate": frozenset({Role.OPERATOR}),
}
"""Who may do what: everyone reads; controllers change sales; operators replay dead letters."""


def secure_request(request: Request) -> bool:
    """Whether the browser reached us over https (the cookie is then Secure).

    Behind a TLS-terminating proxy the request arrives as http with
    ``X-Forwarded-Proto: https``; trusting it can only make the cookie stricter.
    """
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure behind https, the whole site."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
    )


async def current_session(app: Forwardflow, request: Request) -> Session | None:
    """The signed-in user of ``request``, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    return await asyncio.to_thread(session_of, app.engine, token)


def may(session: Session, action: str) -> bool:
    """Whether ``session``'s role may do ``action`` (read, control, operate)."""
    return session.role in ACTIONS[action]


Handler = Callable[[Request, Session], Awaitable[Response]]


def login_redirect(request: Request) -> Response:
    """Back to the sign-in page."""
    return RedirectResponse("/login", status_code=303)


class Throttle:
    """Sign-in attempts: after ``limit`` failures in ``window`` seconds for an email (or
    ``address_limit`` from one address, where a whole office may sign in), further
    attempts are refused until the oldest failure ages out."""

    def __init__(self, limit: int = 5, address_limit: int = 30, window: float = 900.0) -> None:
        self.limit, self.address_limit, self.window = limit, address_limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        held = self._failures.setdefault(key, deque())
        while held and held[0] <= now - self.window:
            held.popleft()
        return held

    def blocked(self, *keys: str) -> bool:
        """Whether any of ``keys`` has used up its attempts."""
        now = time.monotonic()
        with self._lock:
            return any(
                len(self._recent(k, now))
                >= (self.address_limit if k.startswith("addr:") else self.limit)
                for k in keys
            )

    def failed(self, *keys: str) -> None:
        """Count one failure against each of ``keys``."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # a flood of made-up emails: forget the idle
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, *keys: str) -> None:
        """Forget failures of ``keys``."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
