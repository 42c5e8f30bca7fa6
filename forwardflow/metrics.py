"""Prometheus metrics: FastStream's message metrics plus forwardflow's own, read at scrape.

One registry per process, made by the service (nothing at import time). Gauges that
describe the books (receivables by state, open portfolios, amounts due, deliveries)
and the broker (consumer pending and redelivered, dead letters) are refreshed when
``/metrics`` is scraped.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select

from connectors.platform import CALLS
from debtsale.ledger import Ledger
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.broker.telemetry import message_metrics
from forwardflow.clock import today
from forwardflow.store.tables import deliveries, platform_postings

__all__ = ["Metrics"]


class Metrics:
    """The service's registry and forwardflow's gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.receivables = Gauge(
            "forwardflow_receivables", "Receivables in portfolios, by state", ["state"], registry=r
        )
        self.portfolio_face = Gauge(
            "forwardflow_portfolio_face", "Face of portfolios, by status", ["status"], registry=r
        )
        self.portfolio_price = Gauge(
            "forwardflow_portfolio_price", "Price of portfolios, by status", ["status"], registry=r
        )
        self.refunds = Gauge("forwardflow_refunds", "Put-back refunds accepted", registry=r)
        self.owed = Gauge(
            "forwardflow_owed_to_buyers", "Collected for buyers and not yet remitted", registry=r
        )
        self.remitted = Gauge("forwardflow_remitted", "Remitted to buyers", registry=r)
        self.deliveries = Gauge(
            "forwardflow_deliveries", "Delivery receipts, by status", ["status"], registry=r
        )
        self.delivery_attempts = Gauge(
            "forwardflow_delivery_attempts", "Upload attempts over all deliveries", registry=r
        )
        self.pending = Gauge(
            "forwardflow_consumer_pending",
            "Messages waiting or in flight, by consumer",
            ["consumer"],
            registry=r,
        )
        self.redelivered = Gauge(
            "forwardflow_consumer_redelivered",
            "Messages delivered more than once, by consumer",
            ["consumer"],
            registry=r,
        )
        self.dead_letters = Gauge(
            "forwardflow_dead_letters", "Messages in the dead-letter stream", registry=r
        )
        self.journal_entries = Gauge(
            "forwardflow_journal_entries",
            "Journal entries sent to platforms, by state (blocked and unapplied need action)",
            ["state"],
            registry=r,
        )
        self.platform_calls = Gauge(
            "forwardflow_platform_calls",
            "Calls to accounting platforms, by outcome",
            ["outcome"],
            registry=r,
        )

    def middleware(self) -> Any:
        """FastStream's message metrics into the same registry."""
        return message_metrics(self.registry)

    def _books(self, app: Forwardflow) -> None:
        states: Counter[str] = Counter()
        face: defaultdict[str, float] = defaultdict(float)  # monitoring, not accounting
        price: defaultdict[str, float] = defaultdict(float)
        refunds = remitted = 0.0
        owed = 0.0
        with app.unit_of_work() as uow:
            ledgers: dict[str, Ledger] = {}
            for portfolio in uow.portfolios.list():
                if portfolio.closing is not None:
                    if portfolio.tenant not in ledgers:
                        ledgers[portfolio.tenant] = uow.ledger.load(portfolio.tenant)
                    terms = uow.agreements.get(portfolio.agreement_id).remittance
                    items = amounts_due(portfolio, ledgers[portfolio.tenant], terms)
                    due = AmountsDueReport.of(portfolio, items, today())
                    owed += float(due.outstanding.amount)
                status = portfolio.status.value
                closed = portfolio.closing is not None
                states.update(line.state.value for line in portfolio.lines.values())
                face[status] += float(
                    (portfolio.total_face if closed else portfolio.total_face_at_cutoff).amount
                )
                price[status] += float(
                    (portfolio.total_price if closed else portfolio.total_price_at_cutoff).amount
                )
                refunds += float(portfolio.refunds.amount)
                remitted += float(portfolio.remitted.amount)
            postings = uow.connection.execute(
                select(platform_postings.c.state, func.count()).group_by(platform_postings.c.state)
            ).all()
            receipts = uow.connection.execute(
                select(deliveries.c.status, func.count(), func.sum(deliveries.c.attempts)).group_by(
                    deliveries.c.status
                )
            ).all()
        for state, count in states.items():
            self.receivables.labels(state).set(count)
        for status in set(face) | set(price):
            self.portfolio_face.labels(status).set(face[status])
            self.portfolio_price.labels(status).set(price[status])
        self.refunds.set(refunds)
        self.owed.set(owed)
        self.remitted.set(remitted)
        attempts = 0
        for status, count, tried in receipts:
            self.deliveries.labels(status).set(count)
            attempts += int(tried or 0)
        self.delivery_attempts.set(attempts)
        for state in ("posted", "applied", "blocked", "unapplied"):
            self.journal_entries.labels(state).set(0)
        for state, count in postings:
            self.journal_entries.labels(state).set(count)
        for outcome, count in CALLS.items():
            self.platform_calls.labels(outcome).set(count)

    async def _broker(self, app: Forwardflow, bus: Bus) -> None:
        for stream in (app.topology.stream(f) for f in ("LEDGER", "COMMANDS", "EVENTS", "NOTICES")):
            for name, pending, redelivered in await bus.consumers(stream):
                self.pending.labels(name).set(pending)
                self.redelivered.labels(name).set(redelivered)
        self.dead_letters.set(await bus.stream_messages(app.topology.stream("DLQ")))

    async def render(self, app: Forwardflow, bus: Bus) -> bytes:
        """Refresh the gauges and return the exposition text."""
        await asyncio.to_thread(self._books, app)
        await self._broker(app, bus)
        return generate_latest(self.registry)
