"""The readiness checks each role registers, for its own parts only.

Every role: the store takes a write, the broker is connected, its loops are alive,
disk is left, dead letters are not piling up. Handlers and delivery: each of their own
consumers' backlog is under ``health.consumer_lag_limit``. The scheduler (which runs catch-up):
each connected platform company's last catch-up succeeded, no token has expired.
Delivery: each buyer's SFTP server greets us. HTTP: journal entries not in the books
are named as attention on each request (re-authorising through this very service posts
them); so is a catch-up that only reconnecting the company heals.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.broker.lag import consumer_lags
from forwardflow.companies import companies
from forwardflow.health import DeadLetterRate, Vitals, free_disk_problem, probe_store
from forwardflow.marks import marks
from forwardflow.readiness import Readiness

__all__ = [
    "CATCH_UP",
    "INBOX",
    "PAUSED",
    "RECONNECT",
    "catch_up_mark",
    "readiness_for",
    "sftp_greets",
]

CATCH_UP = "catch-up:"
INBOX = "inbox:"
PAUSED = "paused: "
"""How a catch-up the platform paused (a day limit spent) is recorded: named as attention,
the role stays ready; calls resume by themselves when the limit resets."""
RECONNECT = "reconnect: "
"""How a catch-up failure that only reconnecting the company heals is recorded: named as
attention, the role stays ready (the OAuth callback that heals it may go through it)."""


def catch_up_mark(platform: str, company_id: str) -> str:
    """The mark a platform company's catch-up rounds are recorded under."""
    return f"{CATCH_UP}{platform}:{company_id}"


def sftp_greets(host: str, port: int, timeout_s: float) -> str | None:
    """None when an SSH server answers at ``host:port`` with its banner, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            banner = sock.recv(256)
    except OSError as error:
        return f"{host}:{port} unreachable ({error.strerror or type(error).__name__})"
    if not banner.startswith(b"SSH-"):
        return f"{host}:{port} is not an SSH server"
    return None


def _sftp_targets(app: Forwardflow) -> dict[str, tuple[str, int]]:
    with app.unit_of_work() as uow:
        return {
            a.id: (a.delivery.host, a.delivery.port)
            for a in uow.agreements.list()
            if a.delivery is not None
        }


def _catch_up_results(app: Forwardflow) -> tuple[dict[str, str | None], list[str]]:
    """(per platform company: None or why its catch-up fails, what needs a reconnect)."""
    held = {m.name: m for m in marks(app, CATCH_UP)}
    now = datetime.now(UTC)
    results: dict[str, str | None] = {}
    attention: list[str] = []
    for company in companies(app):
        key = f"{company.platform}:{company.company_id}"
        mark = held.get(catch_up_mark(company.platform, company.company_id))
        results[key] = None
        if mark is not None and mark.failing and mark.failed_at:
            line = f"failing since {mark.failed_at:%Y-%m-%d %H:%M:%S}Z: {mark.problem}"
            if (mark.problem or "").startswith((RECONNECT, PAUSED)):
                attention.append(f"catch-up {key} {line}")
            else:
                results[key] = line
        if company.refresh_expires_at <= now:
            results[key] = "token expired: reconnect the company"
    return results, attention


def _add_common(app: Forwardflow, bus: Bus, vitals: Vitals, readiness: Readiness) -> None:
    health = app.settings.health
    rate = DeadLetterRate(health.dead_letter_limit, health.dead_letter_window_seconds)

    async def store() -> str | None:
        return await probe_store(app)

    async def broker() -> str | None:
        return None if bus.connected else "not connected"

    async def parts() -> Mapping[str, str | None]:
        return {line.split(": ", 1)[0]: line.split(": ", 1)[-1] for line in vitals.failing()}

    async def disk() -> str | None:
        return await asyncio.to_thread(free_disk_problem, app)

    async def dead_letters() -> str | None:
        return await rate.problem(bus, app.topology.stream("DLQ"))

    readiness.add("store", store)
    readiness.add("broker", broker)
    readiness.add("part", parts)
    readiness.add("disk", disk)
    readiness.add("dead-letters", dead_letters)


def readiness_for(app: Forwardflow, bus: Bus, vitals: Vitals, parts: set[str]) -> Readiness:
    """The checks of a role made of ``parts`` (handlers, relay, scheduler, delivery, http)."""
    health = app.settings.health
    readiness = Readiness(timeout_s=health.sftp_timeout_seconds + 5)
    _add_common(app, bus, vitals, readiness)
    families = ("NOTICES", "LEDGER", "COMMANDS", "EVENTS")
    delivery = app.topology.delivery_consumer

    def mine(consumer: str) -> bool:  # the delivery role's consumer, or the handlers'
        return ("delivery" in parts) if consumer == delivery else ("handlers" in parts)

    if parts & {"handlers", "delivery"} and health.consumer_lag_limit:
        limit = health.consumer_lag_limit

        async def lag() -> Mapping[str, str | None]:
            jetstream = bus.broker.connection.jetstream()
            return {
                c.consumer: f"{c.backlog} messages waiting or in flight (over {limit})"
                if c.backlog > limit
                else None
                for c in await consumer_lags(jetstream, app.topology, families)
                if mine(c.consumer)
            }

        readiness.add("consumer-lag", lag)
    if "scheduler" in parts:

        async def catch_up() -> Mapping[str, str | None]:
            results, readiness.attention["catch-up"] = await asyncio.to_thread(
                _catch_up_results, app
            )
            return results

        readiness.add("catch-up", catch_up)
    if "delivery" in parts:
        timeout, every = health.sftp_timeout_seconds, health.sftp_poll_seconds
        last: dict[str, tuple[float, tuple[str, int], str | None]] = {}

        async def sftp() -> Mapping[str, str | None]:
            targets = await asyncio.to_thread(_sftp_targets, app)
            now = time.monotonic()
            due = {  # greeted longer ago than sftp_poll_seconds, or moved, or new
                a: t
                for a, t in targets.items()
                if a not in last or last[a][1] != t or now - last[a][0] >= every
            }
            answers = await asyncio.gather(
                *(asyncio.to_thread(sftp_greets, h, p, timeout) for h, p in due.values())
            )
            for (agreement, target), answer in zip(due.items(), answers, strict=True):
                last[agreement] = (now, target, answer)
            return {agreement: last[agreement][2] for agreement in targets}

        readiness.add("buyer-sftp", sftp)
    return readiness
