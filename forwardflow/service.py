"""The long-running service: subscribers, outbox relay and scheduler, stopped gracefully.

``forwardflow run`` hosts every role in one process; ``--role`` runs one so they can
scale apart. On SIGTERM/SIGINT the subscribers stop taking messages, in-flight
handlers finish (FastStream's graceful timeout) or are redelivered, then the process
exits. The HTTP app joins here as the service grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import uvicorn
from faststream.nats import NatsBroker

from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.relay import relay_pending
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.subscribers import build_broker
from forwardflow.clock import today
from forwardflow.http import http_app
from forwardflow.inbound import process_buyer_inbox
from forwardflow.metrics import Metrics
from forwardflow.quickbooks import catch_up_company, companies, token_warnings
from forwardflow.store import current_revision, head_revision
from handlers.schedule import run_schedule

__all__ = ["Role", "SchemaOutdatedError", "serve"]

log = logging.getLogger("forwardflow.service")

_RELAY_IDLE_S = 0.5


class Role(StrEnum):
    """A part of the service that can run on its own."""

    ALL = "all"
    HANDLERS = "handlers"
    RELAY = "relay"
    SCHEDULER = "scheduler"
    DELIVERY = "delivery"
    HTTP = "http"


class SchemaOutdatedError(RuntimeError):
    """The database is not at the schema this version needs."""


async def _relay_forever(app: Forwardflow, broker: NatsBroker, stop: asyncio.Event) -> None:
    """Publish committed outbox events until stopped; errors back off and retry."""
    delay = _RELAY_IDLE_S
    while not stop.is_set():
        try:
            sent = await relay_pending(app.unit_of_work, broker, app.topology)
            delay = 0.0 if sent else _RELAY_IDLE_S
        except Exception:  # the relay must outlive a broker or database hiccup
            log.exception("outbox relay failed; retrying")
            delay = min(30.0, max(1.0, delay * 2))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


async def _schedule_forever(app: Forwardflow, stop: asyncio.Event) -> None:
    """Cut and close forward-flow tranches as they fall due, until stopped."""
    interval = app.settings.schedule.interval_seconds
    while interval and not stop.is_set():
        try:
            done = await app.run_db(run_schedule, app.unit_of_work, today())
            for command, outcome in done:
                if isinstance(outcome, DomainError):
                    log.info(
                        "scheduled command_id=%s type=%s outcome=refused rule=%s",
                        command.command_id,
                        type(command).__name__,
                        outcome.rule,
                    )
                    continue
                log.info(
                    "scheduled command_id=%s type=%s outcome=%s",
                    command.command_id,
                    type(command).__name__,
                    outcome,
                )
        except Exception:  # a refused tranche must not stop the service; it is retried
            log.exception("forward-flow scheduler failed; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _poll_inboxes_forever(app: Forwardflow, stop: asyncio.Event) -> None:
    """Apply buyers' put-back files as they arrive, for every agreement with a delivery."""
    interval = app.settings.delivery.inbox_poll_seconds
    while interval and not stop.is_set():
        with app.unit_of_work() as uow:
            agreements = [a.id for a in uow.agreements.list() if a.delivery is not None]
        for agreement_id in agreements:
            try:
                await asyncio.to_thread(process_buyer_inbox, app, agreement_id)
            except Exception:  # one buyer's server being down must not stop the others
                log.exception("reading the buyer's inbox failed agreement=%s", agreement_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _catch_up_forever(app: Forwardflow, broker: NatsBroker, stop: asyncio.Event) -> None:
    """Heal missed webhooks: CDC on start, every few minutes, and a daily sweep."""
    interval = app.settings.quickbooks.catch_up_minutes * 60
    last_sweep: datetime | None = None
    while interval and not stop.is_set():
        now = datetime.now(UTC)
        sweep = None if last_sweep and now - last_sweep < timedelta(days=1) else timedelta(hours=25)
        try:
            for warning in await asyncio.to_thread(token_warnings, app):
                log.warning(warning)
            for company in await asyncio.to_thread(companies, app):
                realm = company["company_id"]
                try:
                    report = await catch_up_company(broker, app, realm, sweep)
                    log.info("catch-up realm=%s fetched=%s", realm, report.fetched)
                except Exception:  # one company's outage must not stop the others
                    log.exception("catch-up failed realm=%s; retrying next round", realm)
            if sweep:
                last_sweep = now
        except Exception:  # the store being down: try again next round
            log.exception("catch-up round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _http_forever(
    app: Forwardflow, broker: NatsBroker, metrics: Metrics, stop: asyncio.Event
) -> None:
    """Serve the HTTP app (webhooks, OAuth, health) until stopped."""
    listener = socket.create_server((app.settings.http.host, app.settings.http.port))
    host, port = listener.getsockname()[:2]
    config = uvicorn.Config(http_app(app, broker, metrics), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    # Server.serve() would take over SIGTERM/SIGINT; the service owns them, so run the
    # inner loop and stop it through should_exit.
    task = asyncio.create_task(server._serve(sockets=[listener]))
    log.info("http listening on http://%s:%d", host, port)
    await stop.wait()
    server.should_exit = True
    await task


def _stop_on_failure(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a part of the service failed: %s; stopping", task.exception())
        stop.set()


async def serve(app: Forwardflow, role: Role = Role.ALL, stop: asyncio.Event | None = None) -> None:
    """Run ``role`` until ``stop`` is set (or SIGTERM/SIGINT arrives)."""
    revision, head = current_revision(app.engine), head_revision()
    if revision != head:
        raise SchemaOutdatedError(
            f"database schema is at {revision or '(empty)'}, this "
            f"version needs {head}: run `forwardflow db upgrade`"
        )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    metrics = Metrics()

    def make(servers: list[str]) -> NatsBroker:
        return build_broker(
            app,
            servers,
            handlers=role in (Role.ALL, Role.HANDLERS),
            delivery=role in (Role.ALL, Role.DELIVERY),
            middlewares=[metrics.middleware()],
        )

    try:
        async with connect_broker(app.settings, make, start=True) as connection:
            log.info("forwardflow running role=%s broker=%s", role, connection.url)
            tasks = []
            if role in (Role.ALL, Role.RELAY):
                tasks.append(asyncio.create_task(_relay_forever(app, connection.broker, stop)))
            if role in (Role.ALL, Role.SCHEDULER):
                tasks.append(asyncio.create_task(_schedule_forever(app, stop)))
                tasks.append(asyncio.create_task(_catch_up_forever(app, connection.broker, stop)))
            if role in (Role.ALL, Role.DELIVERY):
                tasks.append(asyncio.create_task(_poll_inboxes_forever(app, stop)))
            if role in (Role.ALL, Role.HTTP):
                tasks.append(
                    asyncio.create_task(_http_forever(app, connection.broker, metrics, stop))
                )
            for task in tasks:  # a part that dies (say, its port is taken) stops the whole
                task.add_done_callback(lambda done: _stop_on_failure(done, stop))
            await stop.wait()
            log.info("stopping: finishing in-flight work")
            await asyncio.gather(*tasks)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped")
