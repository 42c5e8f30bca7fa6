"""Prometheus metrics: FastStream's message metrics plus forwardflow's own, cheap at scrape.

One registry per process, made by the service (nothing at import time). Cumulative
counts are Counters (``…_total``); gauges describe a state. A scrape reads only what
is cheap: JetStream consumer info, a few small aggregate queries and the role's last
readiness round. The books (portfolios, the ledger, amounts owed) are loaded by the
scheduler role every ``health.books_seconds`` (``refresh_books``), never per scrape.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from connectors.platform import CALLS
from debtsale.ledger import Ledger
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.broker.lag import consumer_lags
from forwardflow.broker.telemetry import message_metrics
from forwardflow.clock import today
from forwardflow.marks import marks
from forwardflow.readiness import Readiness
from forwardflow.store.tables import deliveries, platform_companies, platform_postings

__all__ = ["Metrics"]

log = logging.getLogger("forwardflow.metrics")

_CATCH_UP = "catch-up:"


class _Totals(Collector):
    """Counters whose value lives elsewhere (a process-wide tally, the store, the broker)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], dict[tuple[str, ...], float]] = {}
        self.labels: dict[tuple[str, str], list[str]] = {}

    def declare(self, name: str, documentation: str, labels: list[str] | None = None) -> None:
        self.values[(name, documentation)] = {}
        self.labels[(name, documentation)] = labels or []

    def set(self, name: str, value: float, *labels: str) -> None:
        for key, held in self.values.items():
            if key[0] == name:
                held[labels] = value

    def collect(self) -> Iterator[Metric]:
        for (name, documentation), held in self.values.items():
            family = CounterMetricFamily(
                name, documentation, labels=self.labels[(name, documentation)]
            )
            for labels, value in held.items():
                family.add_metric(list(labels), value)
            yield family


def _gauge(registry: CollectorRegistry, name: str, text: str, *labels: str) -> Gauge:
    return Gauge(name, text, list(labels), registry=registry)


class Metrics:
    """The service's registry and forwardflow's metrics."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.totals = _Totals()
        t = self.totals
        t.declare(
            "forwardflow_platform_calls", "Calls to accounting platforms, by outcome", ["outcome"]
        )
        t.declare(
            "forwardflow_dead_letters_parked", "Messages ever parked in the dead-letter stream"
        )
        t.declare("forwardflow_delivery_attempts", "Upload attempts over all deliveries")
        t.declare("forwardflow_refunds", "Put-back refunds accepted (books refresh)")
        t.declare("forwardflow_remitted", "Remitted to buyers (books refresh)")
        r.register(t)
        self.tranches_empty = PromCounter(
            "forwardflow_tranches_empty",
            "Tranches due with nothing eligible to cut, by agreement",
            ["agreement"],
            registry=r,
        )
        self.catch_up_rounds = PromCounter(
            "forwardflow_catch_up_rounds",
            "Catch-up rounds run by this process, by platform and outcome",
            ["platform", "outcome"],
            registry=r,
        )
        self._books_gauges(r)
        self._ops_gauges(r)

    def _books_gauges(self, r: CollectorRegistry) -> None:
        self.receivables = _gauge(
            r, "forwardflow_receivables", "Receivables in portfolios, by state", "state"
        )
        self.portfolio_face = _gauge(
            r, "forwardflow_portfolio_face", "Face of portfolios, by status", "status"
        )
        self.portfolio_price = _gauge(
            r, "forwardflow_portfolio_price", "Price of portfolios, by status", "status"
        )
        self.owed = _gauge(
            r, "forwardflow_owed_to_buyers", "Collected for buyers and not yet remitted"
        )
        self.overdue = _gauge(
            r,
            "forwardflow_owed_to_buyer_overdue",
            "Owed to a buyer, due and not remitted (books refresh), by agreement",
            "agreement",
        )
        self.books_at = _gauge(
            r,
            "forwardflow_books_refreshed_timestamp_seconds",
            "When the books' gauges were last computed",
        )

    def _ops_gauges(self, r: CollectorRegistry) -> None:
        self.deliveries = _gauge(
            r, "forwardflow_deliveries", "Delivery receipts, by status", "status"
        )
        self.pending = _gauge(
            r,
            "forwardflow_consumer_pending",
            "Messages not yet delivered to the consumer",
            "stream",
            "consumer",
        )
        self.ack_pending = _gauge(
            r,
            "forwardflow_consumer_ack_pending",
            "Messages delivered, not yet acknowledged",
            "stream",
            "consumer",
        )
        self.redelivered = _gauge(
            r,
            "forwardflow_consumer_redelivered",
            "Messages delivered more than once, unacknowledged",
            "stream",
            "consumer",
        )
        self.dead_letters = _gauge(
            r, "forwardflow_dead_letters", "Messages in the dead-letter stream"
        )
        self.journal_entries = _gauge(
            r,
            "forwardflow_journal_entries",
            "Journal entries sent to platforms, by state (blocked and unapplied need action)",
            "state",
        )
        self.catch_up_success = _gauge(
            r,
            "forwardflow_catch_up_last_success_timestamp_seconds",
            "When a platform company's catch-up last succeeded",
            "platform",
            "company",
        )
        self.catch_up_failing = _gauge(
            r,
            "forwardflow_catch_up_failing",
            "1 when a platform company's last catch-up failed",
            "platform",
            "company",
        )
        self.token_expiry = _gauge(
            r,
            "forwardflow_token_expiry_timestamp_seconds",
            "When a platform company's refresh token hard-expires (reconnect before)",
            "platform",
            "company",
        )
        self.check = _gauge(
            r,
            "forwardflow_readiness_check",
            "1 when the role's readiness check passes, else 0",
            "check",
        )

    def middleware(self) -> Any:
        """FastStream's message metrics into the same registry."""
        return message_metrics(self.registry)

    # ---------------------------------------------------------------- the books, now and then
    def refresh_books(self, app: Forwardflow) -> None:
        """Load every portfolio and ledger once and set the books' gauges (blocking)."""
        states: Counter[str] = Counter()
        face: defaultdict[str, float] = defaultdict(float)  # monitoring, not accounting
        price: defaultdict[str, float] = defaultdict(float)
        overdue: defaultdict[str, float] = defaultdict(float)
        refunds = remitted = owed = 0.0
        with app.unit_of_work() as uow:
            ledgers: dict[str, Ledger] = {}
            for portfolio in uow.portfolios.list():
                closed = portfolio.closing is not None
                if closed:
                    if portfolio.tenant not in ledgers:
                        ledgers[portfolio.tenant] = uow.ledger.load(portfolio.tenant)
                    terms = uow.agreements.get(portfolio.agreement_id).remittance
                    items = amounts_due(portfolio, ledgers[portfolio.tenant], terms)
                    due = AmountsDueReport.of(portfolio, items, today())
                    owed += float(due.outstanding.amount)
                    overdue[portfolio.agreement_id] += float(due.due_now.amount)
                status = portfolio.status.value
                states.update(line.state.value for line in portfolio.lines.values())
                face[status] += float(
                    (portfolio.total_face if closed else portfolio.total_face_at_cutoff).amount
                )
                price[status] += float(
                    (portfolio.total_price if closed else portfolio.total_price_at_cutoff).amount
                )
                refunds += float(portfolio.refunds.amount)
                remitted += float(portfolio.remitted.amount)
        for state, count in states.items():
            self.receivables.labels(state).set(count)
        for status in set(face) | set(price):
            self.portfolio_face.labels(status).set(face[status])
            self.portfolio_price.labels(status).set(price[status])
        for agreement, amount in overdue.items():
            self.overdue.labels(agreement).set(amount)
        self.owed.set(owed)
        self.totals.set("forwardflow_refunds", refunds)
        self.totals.set("forwardflow_remitted", remitted)
        self.books_at.set(datetime.now(UTC).timestamp())

    # ---------------------------------------------------------------- cheap, at each scrape
    def _store(self, app: Forwardflow) -> None:
        with app.unit_of_work() as uow:
            postings = uow.connection.execute(
                select(platform_postings.c.state, func.count()).group_by(platform_postings.c.state)
            ).all()
            receipts = uow.connection.execute(
                select(deliveries.c.status, func.count(), func.sum(deliveries.c.attempts)).group_by(
                    deliveries.c.status
                )
            ).all()
            tokens = uow.connection.execute(
                select(
                    platform_companies.c.platform,
                    platform_companies.c.company_id,
                    platform_companies.c.refresh_expires_at,
                )
            ).all()
        attempts = 0
        for status, count, tried in receipts:
            self.deliveries.labels(status).set(count)
            attempts += int(tried or 0)
        self.totals.set("forwardflow_delivery_attempts", attempts)
        for state in ("posted", "applied", "blocked", "unapplied"):
            self.journal_entries.labels(state).set(0)
        for state, count in postings:
            self.journal_entries.labels(state).set(count)
        for platform, company, expires in tokens:
            moment = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
            self.token_expiry.labels(platform, company).set(moment.timestamp())
        for mark in marks(app, _CATCH_UP):
            platform, _, company = mark.name.removeprefix(_CATCH_UP).partition(":")
            if mark.ok_at is not None:
                self.catch_up_success.labels(platform, company).set(mark.ok_at.timestamp())
            self.catch_up_failing.labels(platform, company).set(1 if mark.failing else 0)
        for outcome, count in CALLS.items():
            self.totals.set("forwardflow_platform_calls", count, outcome)

    async def _broker(self, app: Forwardflow, bus: Bus) -> None:
        jetstream = bus.broker.connection.jetstream()
        for lag in await consumer_lags(jetstream, app.topology):
            self.pending.labels(lag.stream, lag.consumer).set(lag.pending)
            self.ack_pending.labels(lag.stream, lag.consumer).set(lag.ack_pending)
            self.redelivered.labels(lag.stream, lag.consumer).set(lag.redelivered)
        dlq = app.topology.stream("DLQ")
        self.dead_letters.set(await bus.stream_messages(dlq))
        self.totals.set("forwardflow_dead_letters_parked", await bus.last_sequence(dlq))

    async def render(self, app: Forwardflow, bus: Bus, readiness: Readiness | None = None) -> bytes:
        """Refresh the cheap metrics and return the exposition text.

        A store or broker that does not answer leaves its metrics as last seen (readiness
        says why): the scrape itself still works.
        """
        try:
            await asyncio.to_thread(self._store, app)
        except Exception:  # the store is down: keep the rest of the page
            log.warning("metrics: the store did not answer; its values are as last seen")
        try:
            await self._broker(app, bus)
        except Exception:  # the broker is down: keep the rest of the page
            log.warning("metrics: the broker did not answer; its values are as last seen")
        if readiness is not None:
            for name, state in readiness.states.items():
                self.check.labels(name).set(1 if state.ok else 0)
        return generate_latest(self.registry)
