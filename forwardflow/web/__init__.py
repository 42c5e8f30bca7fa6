"""The service's HTTP face, one module per concern: health, connecting companies, webhooks,
and the console at ``/`` (``forwardflow.console``).

``http_app`` composes the routes once the broker is connected; nothing is built at import
time. Each registered platform brings its own webhook route(s); connecting a company is
written once for all of them (``forwardflow.web.connect``).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.console import console_app
from forwardflow.metrics import Metrics
from forwardflow.web.connect import connect_routes
from forwardflow.web.health import Probes, health_routes

__all__ = ["Probes", "http_app"]


def http_app(
    app: Forwardflow, bus: Bus, metrics: Metrics | None = None, probes: Probes | None = None
) -> Starlette:
    """The ASGI application of the running service."""
    routes: list[BaseRoute] = [*health_routes(app, bus, metrics, probes or Probes())]
    for wired in app.wired(bus):
        routes += wired.platform.webhook_routes(wired)
        routes += connect_routes(wired)
    routes.append(Mount("/", console_app(app, bus)))  # the console: last, so it takes the rest
    return Starlette(routes=routes)
