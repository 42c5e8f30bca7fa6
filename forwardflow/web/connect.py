"""``/connect/<platform>`` and ``/callback/<platform>``: connecting a company, for any platform.

Connecting starts only from a link an operator minted with ``forwardflow <platform>
connect`` (see ``forwardflow.connect``): the OAuth state lives in the store, bound to
that link and to the browser that opened it, so any replica of the service can finish
the flow and nobody who merely reaches the port can start one. The platform supplies
the consent URL and the grant (and proves whose it is); the checks around it — company
id format, reconnecting only the same company, nothing stored on a refusal — are here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors.platform import Grant, GrantMismatchError, PlatformError, TransientPlatformError
from forwardflow.companies import store_company
from forwardflow.connect import (
    BROWSER_COOKIE,
    ConnectFlow,
    LinkRefusedError,
    begin_flow,
    finish_flow,
    record_outcome,
)
from forwardflow.wired import WiredPlatform

__all__ = ["connect_routes"]

log = logging.getLogger("forwardflow.http")


def _refused(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _company_problem(wired: WiredPlatform, flow: ConnectFlow, company: str) -> str | None:
    """Why this company may not be connected through this flow, if it may not."""
    name, title = wired.name, wired.platform.title
    if not wired.platform.valid_company_id(company):
        return f"{company[:40]!r} is not a {title} company id"
    if flow.company_id is not None and company != flow.company_id:
        return f"this link reconnects company {flow.company_id}, the grant names {company}"
    if flow.company_id is None and company in await wired.connected({company}):
        return (
            f"company {company} is connected already; to reconnect it run "
            f"`forwardflow {name} connect --company {company}`"
        )
    return None


async def _pick(wired: WiredPlatform, flow: ConnectFlow, grant: Grant) -> str:
    """Which of the companies a grant reaches to connect: the one a reconnect names, else
    the first not connected yet (one company per grant: none shares a refresh token)."""
    reached = [grant.company_id, *grant.others]
    if flow.company_id is not None:
        return flow.company_id if flow.company_id in reached else grant.company_id
    held = await wired.connected(set(reached))
    return next((c for c in reached if c not in held), grant.company_id)


def connect_routes(wired: WiredPlatform) -> list[Route]:
    """The connect and callback routes of one platform."""
    app, name, title = wired.app, wired.name, wired.platform.title
    secure_cookie = wired.platform.redirect_uri(wired).startswith("https://")
    new_link = (
        "this connect link is not valid (forged, expired or used already); run "
        f"`forwardflow {name} connect` on the server for a new one"
    )

    async def connect(request: Request) -> Response:
        token = request.query_params.get("link", "")
        try:
            flow, state, browser = await asyncio.to_thread(begin_flow, app, name, token)
            url = await asyncio.to_thread(wired.platform.authorization_url, wired, state)
        except LinkRefusedError as error:
            log.warning("connect link refused: %s", error)
            return _refused(new_link, 403)
        except PlatformError as error:
            return _refused(str(error), 503)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            BROWSER_COOKIE,
            browser,
            max_age=max(60, int((flow.expires_at - datetime.now(UTC)).total_seconds())),
            path="/callback/",
            secure=secure_cookie,
            httponly=True,
            samesite="lax",  # sent on the platform's top-level redirect back, not cross-site posts
        )
        return response

    async def callback(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            flow = await asyncio.to_thread(
                finish_flow, app, name, params.get("state", ""), request.cookies.get(BROWSER_COOKIE)
            )
        except LinkRefusedError as error:
            log.warning("connect callback refused: %s", error)
            return _refused(str(error))

        async def refuse(message: str, status: int = 400) -> Response:
            await asyncio.to_thread(record_outcome, app, flow.link_id, f"refused: {message}")
            log.warning("connect refused link=%s: %s", flow.link_id, message)
            response = _refused(f"{message}; nothing was changed", status)
            response.delete_cookie(BROWSER_COOKIE, path="/callback/")
            return response

        if params.get("error"):
            return await refuse(f"{title} answered {params['error'][:100]!r}")
        code, named = params.get("code"), wired.platform.callback_company(params)
        if not code:
            return await refuse("code is required")
        if named is not None and (problem := await _company_problem(wired, flow, named)):
            return await refuse(problem)
        try:
            grant: Grant = await asyncio.to_thread(wired.platform.grant, wired, code, named)
        except GrantMismatchError as error:
            return await refuse(str(error))
        except TransientPlatformError as error:
            return await refuse(f"{title} unavailable: {error}", 502)
        except PlatformError as error:
            return await refuse(str(error), 502)
        company = await _pick(wired, flow, grant) if named is None else grant.company_id
        if named is None and (problem := await _company_problem(wired, flow, company)):
            await asyncio.to_thread(wired.platform.revoke, wired, company, grant.tokens)
            return await refuse(problem)
        await asyncio.to_thread(store_company, wired, company, grant.tokens)
        await asyncio.to_thread(record_outcome, app, flow.link_id, f"connected {company}")
        log.info("%s company connected company=%s link=%s", title, company, flow.link_id)
        response = JSONResponse({"connected": company})
        response.delete_cookie(BROWSER_COOKIE, path="/callback/")
        return response

    return [Route(f"/connect/{name}", connect), Route(f"/callback/{name}", callback)]
