"""The service's HTTP face: QuickBooks webhooks and OAuth, health and readiness.

Built by ``http_app(app, broker)`` once the broker is connected; nothing is built at
import time. The CSRF ``state`` of a connect flow lives in this process for ten minutes
(the flow is short and starts and ends on the same service).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import UTC, datetime

from faststream.nats import NatsBroker
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors.quickbooks.client import PlatformError
from connectors.quickbooks.oauth import authorization_url, exchange_code
from connectors.quickbooks.schemas import ChangeNotice
from connectors.quickbooks.webhook import webhook_endpoint
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.metrics import Metrics
from forwardflow.postings import posting_problems
from forwardflow.quickbooks import (
    PLATFORM,
    auth_client,
    companies,
    publish_notices,
    store_company,
)
from forwardflow.store.tables import platform_companies

__all__ = ["http_app"]

log = logging.getLogger("forwardflow.http")

_STATE_TTL_S = 600.0


def http_app(app: Forwardflow, broker: NatsBroker, metrics: Metrics | None = None) -> Starlette:
    """The ASGI application of the running service."""
    states: dict[str, float] = {}

    def verifier_token() -> str | None:
        token = app.settings.quickbooks.verifier_token
        return token.get_secret_value() if token else None

    def _connected(realm_id: str) -> bool:
        with app.unit_of_work() as uow:
            row = uow.connection.execute(
                select(platform_companies.c.company_id).where(
                    platform_companies.c.platform == PLATFORM,
                    platform_companies.c.company_id == realm_id,
                )
            ).first()
        return row is not None

    async def is_connected(realm_id: str) -> bool:
        return await asyncio.to_thread(_connected, realm_id)

    async def publish(notices: list[ChangeNotice]) -> None:
        await publish_notices(broker, app, notices)

    async def connect(request: Request) -> Response:
        now = time.monotonic()
        for state, born in list(states.items()):
            if now - born > _STATE_TTL_S:
                del states[state]
        state = secrets.token_urlsafe(24)
        states[state] = now
        try:
            url = await asyncio.to_thread(lambda: authorization_url(auth_client(app), state))
        except DomainError as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return RedirectResponse(url, status_code=302)

    async def callback(request: Request) -> Response:
        params = request.query_params
        state, code, realm = params.get("state", ""), params.get("code"), params.get("realmId")
        if states.pop(state, None) is None:
            return JSONResponse({"error": "unknown or expired state (CSRF check)"}, status_code=400)
        if not code or not realm:
            return JSONResponse({"error": "code and realmId are required"}, status_code=400)
        try:
            tokens = await asyncio.to_thread(exchange_code, auth_client(app), code, realm)
        except PlatformError as error:
            return JSONResponse({"error": str(error)}, status_code=502)
        await asyncio.to_thread(store_company, app, realm, tokens)
        log.info("QuickBooks company connected realm=%s", realm)
        return JSONResponse({"connected": realm})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        failing = []
        if not broker.connection.is_connected:
            failing.append("broker")
        try:
            await asyncio.to_thread(_ping, app)
            for company in await asyncio.to_thread(companies, app):
                expires = company["refresh_expires_at"]
                expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
                if expires <= datetime.now(UTC):
                    failing.append(f"quickbooks {company['company_id']}: reconnect (token expired)")
            # journal entries not in the books: named here, but the service stays ready, as
            # re-authorising the company (through this very service) is what posts them
            attention = await asyncio.to_thread(posting_problems, app)
        except Exception as error:  # any failure means not ready; say which part
            failing.append(f"database: {type(error).__name__}")
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
                webhook_endpoint(verifier_token, is_connected, publish),
                methods=["POST"],
            ),
            Route("/connect/quickbooks", connect),
            Route("/callback/quickbooks", callback),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


def _ping(app: Forwardflow) -> None:
    with app.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
