"""The long-running service: subscribers, outbox relay and scheduler, stopped gracefully.

``forwardflow run`` hosts every role in one process; ``--role`` runs one so they can
scale apart. On SIGTERM/SIGINT the subscribers stop taking messages, in-flight
handlers finish (FastStream's graceful timeout) or are redelivered, then the process
exits. A part that dies stops the whole service with ``ServiceFailedError`` (exit code
1, one line saying why), so its supervisor (systemd, Kubernetes) restarts it; the
embedded nats-server is restarted in place a few times first.

Every role listens on its own HTTP port (``http.port``): ``/healthz``, ``/readyz`` (the
role's readiness checks, polled every ``health.poll_seconds``) and ``/metrics``; the
``http`` and ``all`` roles add the webhooks and the OAuth callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import uvicorn
from starlette.applications import Starlette

from connectors.platform import AuthorizationError, paused
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.broker.embedded import EmbeddedNats, EmbeddedNatsError
from forwardflow.broker.relay import relay_pending
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.subscribers import build_broker
from forwardflow.buyer_files import send_buyer_files
from forwardflow.clock import today
from forwardflow.companies import catch_up_company, companies, token_warnings
from forwardflow.health import Vitals, broker_check
from forwardflow.httpserver import ServerLimits, guarded_config
from forwardflow.inbound import process_buyer_inbox
from forwardflow.marks import record
from forwardflow.metrics import Metrics
from forwardflow.postings import posting_problems
from forwardflow.production import SampleSettingsError, sample_settings_problems
from forwardflow.readiness_checks import (
    INBOX,
    PAUSED,
    RECONNECT,
    catch_up_mark,
    readiness_for,
)
from forwardflow.store import current_revision, head_revision
from forwardflow.web import Probes, http_app
from forwardflow.web.health import health_routes
from forwardflow.wired import WiredPlatform
from handlers.schedule import run_schedule

__all__ = ["Role", "SampleSettingsError", "SchemaOutdatedError", "ServiceFailedError", "serve"]

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


class ServiceFailedError(RuntimeError):
    """A vital part of the service died; the message says which and why."""


_RESTART_WINDOW_S = 600.0
_WATCH_S = 0.5
_FIRST_ROUND_S = 30.0


async def _supervise_embedded(embedded: EmbeddedNats, restarts: int, stop: asyncio.Event) -> None:
    """Restart a dead embedded nats-server (at most ``restarts`` in ten minutes), else fail.

    The dead child is reaped at once (no defunct process); the restarted server has the
    same port and storage, so the broker client reconnects and JetStream resumes.
    """
    recent: list[float] = []
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=_WATCH_S)
        if stop.is_set() or embedded.running():
            continue
        now = loop.time()
        recent = [t for t in recent if now - t < _RESTART_WINDOW_S]
        code = embedded.exit_code
        if len(recent) >= restarts:
            raise ServiceFailedError(
                f"the embedded nats-server died (exit code {code}) and was restarted "
                f"{len(recent)} time(s) in ten minutes; see {embedded.log_file}"
            )
        recent.append(now)
        log.error("the embedded nats-server died (exit code %s); restarting it", code)
        try:
            await asyncio.to_thread(embedded.restart)
        except EmbeddedNatsError as error:
            raise ServiceFailedError(f"the embedded nats-server cannot restart: {error}") from None
        log.warning("embedded nats-server restarted pid=%s port=%s", embedded.pid, embedded.port)


async def _relay_forever(app: Forwardflow, bus: Bus, stop: asyncio.Event) -> None:
    """Publish committed outbox events until stopped; errors back off and retry."""
    delay = _RELAY_IDLE_S
    while not stop.is_set():
        try:
            sent = await relay_pending(app.unit_of_work, bus.broker, app.topology)
            delay = 0.0 if sent else _RELAY_IDLE_S
        except Exception:  # the relay must outlive a broker or database hiccup
            log.exception("outbox relay failed; retrying")
            delay = min(30.0, max(1.0, delay * 2))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


def _empty_tranche(app: Forwardflow, metrics: Metrics, command: Any, error: DomainError) -> None:
    """A tranche due with nothing to cut: never silent (a log line, a metric, a mark)."""
    agreement = str(getattr(command, "agreement_id", ""))
    metrics.tranches_empty.labels(agreement).inc()
    report = app.settings.schedule.empty_tranche == "report"
    log.log(
        logging.WARNING if report else logging.INFO,
        "tranche skipped: nothing to cut agreement=%s command_id=%s (%s)",
        agreement,
        command.command_id,
        error,
    )
    if report:
        record(app, f"tranche:{agreement}", f"empty tranche not cut: {error}")


async def _schedule_forever(app: Forwardflow, stop: asyncio.Event, metrics: Metrics) -> None:
    """Cut and close forward-flow tranches as they fall due, until stopped."""
    interval = app.settings.schedule.interval_seconds
    while interval and not stop.is_set():
        try:
            done = await app.run_db(run_schedule, app.unit_of_work, today())
            for command, outcome in done:
                if isinstance(outcome, DomainError) and outcome.rule == "portfolio.empty":
                    await asyncio.to_thread(_empty_tranche, app, metrics, command, outcome)
                    continue
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
                agreement = getattr(command, "agreement_id", None)
                if agreement and app.settings.schedule.empty_tranche == "report":
                    await asyncio.to_thread(record, app, f"tranche:{agreement}", None)
        except Exception:  # a refused tranche must not stop the service; it is retried
            log.exception("forward-flow scheduler failed; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _poll_inboxes_forever(app: Forwardflow, stop: asyncio.Event) -> None:
    """Apply buyers' put-back files as they arrive and send them the outcomes and statements,
    for every agreement with a delivery."""
    interval = app.settings.delivery.inbox_poll_seconds
    while interval and not stop.is_set():
        with app.unit_of_work() as uow:
            agreements = [a.id for a in uow.agreements.list() if a.delivery is not None]
        for agreement_id in agreements:
            try:
                await asyncio.to_thread(process_buyer_inbox, app, agreement_id)
                # then tell the buyer its put-backs' outcomes and what it is owed
                await asyncio.to_thread(send_buyer_files, app, agreement_id)
                problem = None
            except Exception as error:  # one buyer's server being down must not stop the others
                log.exception("reading the buyer's inbox failed agreement=%s", agreement_id)
                problem = f"{type(error).__name__}: {error}"
            with contextlib.suppress(Exception):  # the store being down: the log says it
                await asyncio.to_thread(record, app, f"{INBOX}{agreement_id}", problem)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def _needs_reconnect(error: BaseException) -> bool:
    """True when the platform refused the company's authorisation (only reconnecting heals
    it), however the error was wrapped on its way here."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, AuthorizationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _catch_up_forever(wired: WiredPlatform, stop: asyncio.Event, metrics: Metrics) -> None:
    """Heal one platform's missed webhooks: CDC on start, every few minutes, a daily sweep."""
    interval = float(wired.settings.catch_up_minutes) * 60
    last_sweep: datetime | None = None
    while interval and not stop.is_set():
        now = datetime.now(UTC)
        sweep = None if last_sweep and now - last_sweep < timedelta(days=1) else timedelta(hours=25)
        try:
            for warning in await asyncio.to_thread(token_warnings, wired.app):
                log.warning(warning)
            for company in await asyncio.to_thread(companies, wired.app, wired.name):
                mark = catch_up_mark(wired.name, company.company_id)
                try:
                    report = await catch_up_company(wired, company.company_id, sweep)
                    await asyncio.to_thread(record, wired.app, mark, None)
                    metrics.catch_up_rounds.labels(wired.name, "ok").inc()
                    log.info(
                        "catch-up platform=%s company=%s fetched=%s",
                        wired.name,
                        company.company_id,
                        report.fetched,
                    )
                except Exception as error:  # one company's outage must not stop the others
                    metrics.catch_up_rounds.labels(wired.name, "failed").inc()
                    why = f"{type(error).__name__}: {error}"
                    if _needs_reconnect(error):
                        why = f"{RECONNECT}{error}"
                    elif until := paused(wired.name).get(company.company_id):
                        why = f"{PAUSED}calls paused until {until:%Y-%m-%d %H:%M} UTC (day limit)"
                    with contextlib.suppress(Exception):  # the store being down: logged below
                        await asyncio.to_thread(record, wired.app, mark, why)
                    log.exception(
                        "catch-up failed platform=%s company=%s; retrying next round",
                        wired.name,
                        company.company_id,
                    )
            if sweep:
                last_sweep = now
        except Exception:  # the store being down: try again next round
            log.exception("catch-up round failed platform=%s", wired.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def server_limits(app: Forwardflow) -> ServerLimits:
    """The HTTP listener's deadlines and caps from the settings."""
    http = app.settings.http
    return ServerLimits(
        header_timeout=http.header_timeout_seconds,
        body_timeout=http.body_timeout_seconds,
        keep_alive=http.keep_alive_seconds,
        max_connections=http.max_connections,
        max_header_bytes=http.max_header_bytes,
    )


async def _books_forever(app: Forwardflow, metrics: Metrics, stop: asyncio.Event) -> None:
    """Recompute the books' gauges now and then (a scrape never loads the books)."""
    interval = app.settings.health.books_seconds
    while interval and not stop.is_set():
        try:
            await asyncio.to_thread(metrics.refresh_books, app)
        except Exception:  # the store being down: readiness says so; try again later
            log.exception("computing the books' metrics failed; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _http_forever(
    app: Forwardflow,
    bus: Bus,
    metrics: Metrics,
    probes: Probes,
    stop: asyncio.Event,
    *,
    full: bool,
) -> None:
    """Serve the role's HTTP port until stopped: health, readiness and metrics, and for
    the http role the webhooks and the OAuth callback too."""
    listener = socket.create_server((app.settings.http.host, app.settings.http.port), backlog=1024)
    host, port = listener.getsockname()[:2]
    web = (
        http_app(app, bus, metrics, probes)
        if full
        else Starlette(routes=health_routes(app, bus, metrics, probes))
    )
    config = guarded_config(web, server_limits(app))
    server = uvicorn.Server(config)
    if probes.readiness is not None:  # connections wait in the backlog meanwhile
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(probes.readiness.polled.wait(), _FIRST_ROUND_S)
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


async def _watch_vitals(vitals: Vitals, stop: asyncio.Event) -> None:
    """Stop the service when a vital part has been dead for a while (its supervisor
    restarts the process); /healthz says so meanwhile."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=_WATCH_S * 4)
        if failing := vitals.failing():
            raise ServiceFailedError("; ".join(failing))


def _refuse_samples(app: Forwardflow) -> None:
    """Production (PostgreSQL, a platform in production) on a shipped sample: refuse."""
    if problems := sample_settings_problems(app.settings, [p.name for p in app.platforms.values()]):
        raise SampleSettingsError(
            "refusing to run production on sample settings (set them first):\n  "
            + "\n  ".join(problems)
        )


async def serve(app: Forwardflow, role: Role = Role.ALL, stop: asyncio.Event | None = None) -> None:
    """Run ``role`` until ``stop`` is set (or SIGTERM/SIGINT arrives)."""
    _refuse_samples(app)
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

    make = functools.partial(
        build_broker,
        app,
        handlers=role in (Role.ALL, Role.HANDLERS),
        delivery=role in (Role.ALL, Role.DELIVERY),
        middlewares=[metrics.middleware()],
    )

    vitals = Vitals()
    try:
        async with connect_broker(app.settings, make, start=True) as connection:
            log.info("forwardflow running role=%s broker=%s", role, connection.url)
            bus = Bus(connection.broker, app.topology)
            vitals.watch("broker", broker_check(bus))
            parts: dict[str, Coroutine[Any, Any, None]] = {}
            if connection.embedded is not None:
                restarts = app.settings.broker.embedded_restarts
                parts["embedded nats-server"] = _supervise_embedded(
                    connection.embedded, restarts, stop
                )
            if role in (Role.ALL, Role.RELAY):
                parts["outbox relay"] = _relay_forever(app, bus, stop)
            if role in (Role.ALL, Role.SCHEDULER):
                parts["scheduler"] = _schedule_forever(app, stop, metrics)
                parts["books metrics"] = _books_forever(app, metrics, stop)
                for wired in app.wired(bus):
                    parts[f"change-data-capture {wired.name}"] = _catch_up_forever(
                        wired, stop, metrics
                    )
            if role in (Role.ALL, Role.DELIVERY):
                parts["buyer inboxes"] = _poll_inboxes_forever(app, stop)
            full = role in (Role.ALL, Role.HTTP)
            members = (
                {r.value for r in Role if r is not Role.ALL} if role is Role.ALL else {role.value}
            )
            readiness = readiness_for(app, bus, vitals, members)
            parts["readiness"] = readiness.poll_forever(app.settings.health.poll_seconds, stop)
            attention = functools.partial(posting_problems, app) if full else None
            probes = Probes(vitals=vitals, readiness=readiness, attention=attention)
            parts["http"] = _http_forever(app, bus, metrics, probes, stop, full=full)
            parts["vitals"] = _watch_vitals(vitals, stop)
            tasks = {name: asyncio.create_task(part) for name, part in parts.items()}
            for name, task in tasks.items():  # a part that dies stops the whole
                task.add_done_callback(lambda done: _stop_on_failure(done, stop))
                if name != "vitals":
                    vitals.watch_task(name, task)
            await stop.wait()
            log.info("stopping: finishing in-flight work")
            results = await asyncio.gather(*tasks.values(), return_exceptions=True)
            failed = [
                f"{name}: {result}"
                for name, result in zip(tasks, results, strict=True)
                if isinstance(result, BaseException)
            ]
            if failed:
                raise ServiceFailedError("; ".join(failed))
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped")
