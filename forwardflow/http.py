"""The service's HTTP face: QuickBooks webhooks and OAuth, health and readiness.

Built by ``http_app(app, broker)`` once the broker is connected; nothing is built at
import time. Connecting a company starts only from a link an operator minted with
``forwardflow quickbooks connect`` (see ``forwardflow.connect``): the OAuth state lives
in the store, bound to that link and to the browser that opened it, so any replica of
the service can finish the flow and nobody who merely reaches the port can start one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from faststream.nats import NatsBroker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors.quickbooks.client import PlatformError, Tokens, TransientPlatformError
from connectors.quickbooks.oauth import (
    GrantMismatchError,
    api_url_v3,
    authorization_url,
    exchange_code,
    revoke,
    valid_realm,
    verify_grant,
)
from connectors.quickbooks.schemas import ChangeNotice
from connectors.quickbooks.webhook import webhook_endpoint
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.connect import (
    BROWSER_COOKIE,
    ConnectFlow,
    LinkRefusedError,
    begin_flow,
    finish_flow,
    record_outcome,
)
from forwardflow.health import DeadLetterRate, Vitals, free_disk_problem, probe_store
from forwardflow.metrics import Metrics
from forwardflow.postings import posting_problems
from forwardflow.quickbooks import (
    PLATFORM,
    auth_client,
    companies,
    connected_among,
    publish_notices,
    store_company,
)

__all__ = ["Probes", "http_app"]

log = logging.getLogger("forwardflow.http")

_NEW_LINK = (
    "this connect link is not valid (forged, expired or used already); run "
    "`forwardflow quickbooks connect` on the server for a new one"
)


@dataclass
class Probes:
    """What ``/healthz`` and ``/readyz`` consult besides the store and the broker."""

    vitals: Vitals = field(default_factory=Vitals)
    dead_letters: DeadLetterRate | None = None


def _refused(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def http_app(
    app: Forwardflow,
    broker: NatsBroker,
    metrics: Metrics | None = None,
    probes: Probes | None = None,
) -> Starlette:
    """The ASGI application of the running service."""
    probes = probes or Probes()
    secure_cookie = app.settings.quickbooks.redirect_uri.startswith("https://")

    def verifier_token() -> str | None:
        token = app.settings.quickbooks.verifier_token
        return token.get_secret_value() if token else None

    async def connected(realms: set[str]) -> set[str]:
        return await asyncio.to_thread(connected_among, app, realms)

    async def publish(notices: list[ChangeNotice]) -> None:
        await publish_notices(broker, app, notices)

    async def connect(request: Request) -> Response:
        token = request.query_params.get("link", "")
        try:
            flow, state, browser = await asyncio.to_thread(begin_flow, app, PLATFORM, token)
            url = await asyncio.to_thread(lambda: authorization_url(auth_client(app), state))
        except LinkRefusedError as error:
            log.warning("connect link refused: %s", error)
            return _refused(_NEW_LINK, 403)
        except DomainError as error:
            return _refused(str(error), 503)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            BROWSER_COOKIE,
            browser,
            max_age=max(60, int((flow.expires_at - datetime.now(UTC)).total_seconds())),
            path="/callback/",
            secure=secure_cookie,
            httponly=True,
            samesite="lax",  # sent on Intuit's top-level redirect back, not cross-site posts
        )
        return response

    def _grant(flow: ConnectFlow, code: str, realm: str) -> Tokens:
        """Trade the code, then prove the tokens open ``realm``; revoke them if not."""
        tokens = exchange_code(auth_client(app), code, realm)
        settings = app.settings.quickbooks
        try:
            verify_grant(
                tokens,
                realm,
                api_url_v3(settings.environment, settings.api_base_url),
                settings.minor_version,
            )
        except GrantMismatchError:
            try:
                revoke(auth_client(app), tokens.refresh_token)
            except PlatformError:
                log.warning("could not revoke a refused grant link=%s", flow.link_id)
            raise
        return tokens

    async def callback(request: Request) -> Response:
        params = request.query_params
        state, code, realm = params.get("state", ""), params.get("code"), params.get("realmId")
        try:
            flow = await asyncio.to_thread(
                finish_flow, app, PLATFORM, state, request.cookies.get(BROWSER_COOKIE)
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
            return await refuse(f"Intuit answered {params['error'][:100]!r}")
        if not code or not realm:
            return await refuse("code and realmId are required")
        if not valid_realm(realm):
            return await refuse("realmId is not a QuickBooks company id")
        if flow.company_id is not None and realm != flow.company_id:
            return await refuse(
                f"this link reconnects company {flow.company_id}, the grant names {realm}"
            )
        if flow.company_id is None and realm in await connected({realm}):
            return await refuse(
                f"company {realm} is connected already; to reconnect it run "
                f"`forwardflow quickbooks connect --company {realm}`"
            )
        try:
            tokens = await asyncio.to_thread(_grant, flow, code, realm)
        except GrantMismatchError as error:
            return await refuse(str(error))
        except TransientPlatformError as error:
            return await refuse(f"QuickBooks unavailable: {error}", 502)
        except PlatformError as error:
            return await refuse(str(error), 502)
        await asyncio.to_thread(store_company, app, realm, tokens)
        await asyncio.to_thread(record_outcome, app, flow.link_id, f"connected {realm}")
        log.info("QuickBooks company connected realm=%s link=%s", realm, flow.link_id)
        response = JSONResponse({"connected": realm})
        response.delete_cookie(BROWSER_COOKIE, path="/callback/")
        return response

    async def healthz(request: Request) -> Response:
        failing = probes.vitals.failing()
        if failing:
            return JSONResponse({"status": "dead", "failing": failing}, status_code=503)
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        failing = probes.vitals.failing()
        if not broker.connection.is_connected:
            failing.append("broker: not connected")
        if problem := await probe_store(app):
            failing.append(problem)
        if problem := free_disk_problem(app):
            failing.append(problem)
        try:
            if probes.dead_letters is not None and (
                problem := await probes.dead_letters.problem(broker, app.topology.stream("DLQ"))
            ):
                failing.append(problem)
            for company in await asyncio.to_thread(companies, app):
                expires = company["refresh_expires_at"]
                expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
                if expires <= datetime.now(UTC):
                    failing.append(f"quickbooks {company['company_id']}: reconnect (token expired)")
            # journal entries not in the books: named here, but the service stays ready, as
            # re-authorising the company (through this very service) is what posts them
            attention = await asyncio.to_thread(posting_problems, app)
        except Exception as error:  # any failure means not ready; say which kind
            failing.append(f"probe failed: {type(error).__name__}")
            attention = []
        extra = {"attention": attention} if attention else {}
        if failing:
            return JSONResponse(
                {"status": "not ready", "failing": failing, **extra}, status_code=503
            )
        return JSONResponse({"status": "ready", **extra})

    async def metrics_page(request: Request) -> Response:
        if metrics is None:
            return Response("metrics are off", status_code=404)
        body = await metrics.render(app, broker)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return Starlette(
        routes=[
            Route("/metrics", metrics_page),
            Route(
                "/webhooks/quickbooks",
                webhook_endpoint(verifier_token, connected, publish),
                methods=["POST"],
            ),
            Route("/connect/quickbooks", connect),
            Route("/callback/quickbooks", callback),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )
