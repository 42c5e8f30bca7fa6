"""The console's ASGI app: templates, sign-in and sign-out, and the routes of every page."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.console.auth import (
    SESSION_COOKIE,
    Throttle,
    current_session,
    may,
    set_session_cookie,
)
from forwardflow.console.csrf import LOGIN_COOKIE, new_login_token, token_matches
from forwardflow.console.store import (
    SESSION_HOURS,
    Session,
    check_password,
    end_session,
    record_audit,
    start_session,
)

__all__ = ["Console", "console_app", "form_command_id", "guard", "new_command_id"]

log = logging.getLogger("forwardflow.console")
_HERE = Path(__file__).parent
_COMMAND_ID = re.compile(r"console:[a-z-]+:[A-Za-z0-9_-]{8,64}")


@dataclass
class Console:
    """What every console page needs: the app, the broker (when running), templates."""

    app: Forwardflow
    bus: Bus | None = None
    throttle: Throttle = field(default_factory=Throttle)
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = lambda m: "" if m is None else f"{m.amount:,.2f}"
        self.env.filters["num"] = lambda n: f"{n:,}"

    def render(
        self, request: Request, name: str, session: Session | None, status: int = 200, **data: Any
    ) -> HTMLResponse:
        """A page: the template with who is signed in and what they may do."""
        body = self.env.get_template(name).render(
            request=request,
            session=session,
            may=(lambda action: session is not None and may(session, action)),
            message=request.query_params.get("msg", "")[:300],
            platforms=list(self.app.platforms.values()),
            **data,
        )
        return HTMLResponse(body, status_code=status)

    def refuse(self, request: Request, session: Session | None, status: int, why: str) -> Response:
        """A refusal page with its status (403 forbidden, 400 bad form …)."""
        return self.render(request, "error.html", session, status=status, why=why)


Endpoint = Callable[[Request], Awaitable[Response]]
Guarded = Callable[[Request, Session], Awaitable[Response]]


def guard(console: Console, action: str, handler: Guarded) -> Endpoint:
    """``handler`` for signed-in users whose role may do ``action``; a post needs the CSRF token.

    Not signed in: back to the sign-in page (401 for a post). A role that may not: 403.
    """

    async def endpoint(request: Request) -> Response:
        session = await current_session(console.app, request)
        posted = request.method == "POST"
        if session is None:
            if posted:
                return console.refuse(request, None, 401, "sign in first")
            return RedirectResponse("/login", status_code=303)
        if not may(session, action):
            log.info("console refused %s %s to a %s", request.method, action, session.role)
            return console.refuse(request, session, 403, f"a {session.role} may not do this")
        if posted and not token_matches(await request.form(), session.csrf):
            log.info("console refused a post without its CSRF token")
            return console.refuse(request, session, 403, "the form's security token is wrong")
        return await handler(request, session)

    return endpoint


def new_command_id(action: str) -> str:
    """A command id for a form: submitting the same form twice applies it once."""
    return f"console:{action}:{secrets.token_urlsafe(12)}"


def form_command_id(form: Any, action: str) -> str | None:
    """The form's command id when it is one the console made for ``action``."""
    given = form.get("command_id")
    if (
        isinstance(given, str)
        and _COMMAND_ID.fullmatch(given)
        and given.startswith(f"console:{action}:")
    ):
        return given
    return None


def _keys(request: Request, email: str) -> tuple[str, str]:
    host = request.client.host if request.client else "?"
    return f"email:{email.strip().lower()}", f"addr:{host}"


def auth_routes(console: Console) -> list[Route]:
    """Sign-in (throttled, CSRF double-submit) and sign-out."""
    engine = console.app.engine

    async def login_form(request: Request) -> Response:
        token = new_login_token()
        response = console.render(request, "login.html", None, csrf=token)
        response.set_cookie(LOGIN_COOKIE, token, path="/login", httponly=True, samesite="lax")
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        if not token_matches(form, request.cookies.get(LOGIN_COOKIE)):
            return console.refuse(request, None, 403, "the form's security token is missing")
        email, password = str(form.get("email", ""))[:254], str(form.get("password", ""))
        keys = _keys(request, email)
        if console.throttle.blocked(*keys):
            log.warning("console sign-in throttled")
            return console.refuse(request, None, 429, "too many failed sign-ins; wait a while")
        role = await asyncio.to_thread(check_password, engine, email, password)
        if role is None:
            console.throttle.failed(*keys)
            log.info("console sign-in refused")
            token = new_login_token()
            response = console.render(
                request, "login.html", None, status=401, csrf=token, failed=True
            )
            response.set_cookie(LOGIN_COOKIE, token, path="/login", httponly=True, samesite="lax")
            return response
        console.throttle.succeeded(*keys)
        token, _csrf = await asyncio.to_thread(start_session, engine, email)
        await asyncio.to_thread(
            record_audit, engine, email.strip().lower(), "sign-in", role.value, "ok"
        )
        home = RedirectResponse("/", status_code=303)
        set_session_cookie(home, request, token, SESSION_HOURS * 3600)
        home.delete_cookie(LOGIN_COOKIE, path="/login")
        return home

    async def logout(request: Request) -> Response:
        session = await current_session(console.app, request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        if not token_matches(await request.form(), session.csrf):
            return console.refuse(request, session, 403, "the form's security token is wrong")
        await asyncio.to_thread(end_session, engine, request.cookies[SESSION_COOKIE])
        await asyncio.to_thread(record_audit, engine, session.email, "sign-out", "", "ok")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


def console_app(app: Forwardflow, bus: Bus | None = None) -> Starlette:
    """The console for ``app`` (dead letters need ``bus``, the running service's broker)."""
    from forwardflow.console.actions import action_routes
    from forwardflow.console.operate import operate_routes
    from forwardflow.console.pages import page_routes

    console = Console(app, bus)
    return Starlette(
        routes=[
            *auth_routes(console),
            *page_routes(console),
            *action_routes(console),
            *operate_routes(console),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ]
    )
