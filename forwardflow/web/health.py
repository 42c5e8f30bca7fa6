"""``/healthz`` (is every vital part alive), ``/readyz`` (can it do its work), ``/metrics``.

Every role serves these on its own port. ``/readyz`` answers from the role's last round
of readiness checks (``forwardflow.readiness``): a JSON body naming each check, ok or
failing and since when; 503 while any fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.platform import paused
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.companies import companies
from forwardflow.health import DeadLetterRate, Vitals, free_disk_problem, probe_store
from forwardflow.metrics import Metrics
from forwardflow.postings import posting_problems
from forwardflow.readiness import Readiness

__all__ = ["Probes", "health_routes"]


@dataclass
class Probes:
    """What ``/healthz`` and ``/readyz`` consult besides the store and the broker."""

    vitals: Vitals = field(default_factory=Vitals)
    dead_letters: DeadLetterRate | None = None
    readiness: Readiness | None = None
    attention: Callable[[], list[str]] | None = None
    """Asked on each ``/readyz`` (cheap): what needs an operator without making it unready."""


def _expired_companies(app: Forwardflow) -> list[str]:
    now = datetime.now(UTC)
    return [
        f"{company.platform} {company.company_id}: reconnect (token expired)"
        for company in companies(app)
        if company.refresh_expires_at <= now
    ]


def _paused_companies(app: Forwardflow) -> list[str]:
    """Companies whose calls a platform paused in this process (a day limit spent)."""
    return [
        f"{name} {company}: calls paused until {until:%Y-%m-%d %H:%M} UTC (day limit reached)"
        for name in app.platforms
        for company, until in sorted(paused(name).items())
    ]


async def _readiness(app: Forwardflow, bus: Bus, probes: Probes) -> tuple[list[str], list[str]]:
    """(what fails, what needs attention without making the service unready)."""
    failing = probes.vitals.failing()
    if not bus.connected:
        failing.append("broker: not connected")
    if problem := await probe_store(app):
        failing.append(problem)
    if problem := free_disk_problem(app):
        failing.append(problem)
    try:
        if probes.dead_letters is not None and (
            problem := await probes.dead_letters.problem(bus, app.topology.stream("DLQ"))
        ):
            failing.append(problem)
        failing += await asyncio.to_thread(_expired_companies, app)
        # journal entries not in the books: named here, but the service stays ready, as
        # re-authorising the company (through this very service) is what posts them
        attention = await asyncio.to_thread(posting_problems, app)
        attention += _paused_companies(app)  # it resumes by itself when the limit resets
    except Exception as error:  # any failure means not ready; say which kind
        failing.append(f"probe failed: {type(error).__name__}")
        attention = []
    return failing, attention


async def _polled(
    readiness: Readiness, attention: Callable[[], list[str]] | None
) -> tuple[bool, dict[str, Any]]:
    """The last round's report, with what needs attention asked now."""
    ready, body = readiness.report()
    if attention is not None:
        try:
            lines = await asyncio.to_thread(attention)
        except Exception as error:  # the store is down: the store check says so
            lines = [f"attention unknown: {type(error).__name__}"]
        if every := [*body.get("attention", []), *lines]:
            body["attention"] = every
    return ready, body


def health_routes(
    app: Forwardflow, bus: Bus, metrics: Metrics | None, probes: Probes
) -> list[Route]:
    """The probes and the metrics page."""

    async def healthz(request: Request) -> Response:
        failing = probes.vitals.failing()
        if failing:
            return JSONResponse({"status": "dead", "failing": failing}, status_code=503)
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        if probes.readiness is not None:
            ready, body = await _polled(probes.readiness, probes.attention)
            return JSONResponse(body, status_code=200 if ready else 503)
        failing, attention = await _readiness(app, bus, probes)
        extra = {"attention": attention} if attention else {}
        if failing:
            return JSONResponse(
                {"status": "not ready", "failing": failing, **extra}, status_code=503
            )
        return JSONResponse({"status": "ready", **extra})

    async def metrics_page(request: Request) -> Response:
        if metrics is None:
            return Response("metrics are off", status_code=404)
        body = await metrics.render(app, bus, probes.readiness)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return [
        Route("/metrics", metrics_page),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
