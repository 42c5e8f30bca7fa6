"""Commands through real NATS: the sender waits for the answer; a refusal is dead-lettered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from faststream.nats import NatsBroker

from debtsale.agreement import sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.commands import send_command
from forwardflow.broker.deadletter import list_dead_letters
from forwardflow.broker.runtime import BrokerConnection, connect_broker
from forwardflow.broker.subscribers import build_broker
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.store import upgrade
from handlers.ledger import apply_ledger_change
from testkit.builders import LedgerBuilder

pytestmark = [pytest.mark.nats, pytest.mark.anyio]


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, nats_url: str, stream_prefix: str) -> Forwardflow:
    settings = load_settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=sqlite_url),
        broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix, ack_wait_seconds=3),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    with app.unit_of_work() as uow:
        uow.agreements.add(sample_agreement_text())
        uow.commit()
    book = LedgerBuilder(tenant="t1")
    for n in range(5):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    for change in book.changes:
        apply_ledger_change(app.unit_of_work(), "t1", change)
    return app


@pytest.fixture
async def service(app: Forwardflow) -> AsyncIterator[BrokerConnection]:
    def make(servers: list[str]) -> NatsBroker:
        return build_broker(app, servers)

    async with connect_broker(app.settings, make, start=True) as connection:
        try:
            yield connection
        finally:
            jetstream = connection.broker.connection.jetstream()
            for name in connection.streams:
                await jetstream.delete_stream(name)


def _cut(command_id: str, agreement: str = "acme-spot-2026") -> CutPortfolio:
    return CutPortfolio(
        command_id=command_id,
        tenant="t1",
        portfolio_id="P1",
        agreement_id=agreement,
        cutoff=date(2025, 6, 30),
    )


async def test_a_command_is_applied_once_and_answered(
    app: Forwardflow, service: BrokerConnection
) -> None:
    broker, topology = service.broker, app.topology
    answer = await send_command(broker, topology, _cut("c1"), timeout=20)
    assert (answer.command_id, answer.outcome) == ("c1", "applied")
    again = await send_command(broker, topology, _cut("c1"), timeout=20)
    assert again.outcome == "duplicate"
    close = ClosePortfolio(command_id="c2", portfolio_id="P1", closing=date(2025, 7, 15))
    assert (await send_command(broker, topology, close, timeout=20)).outcome == "applied"
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    assert str(portfolio.total_price.amount) == "750.00"


async def test_a_refused_command_says_why_and_is_dead_lettered(
    app: Forwardflow, service: BrokerConnection
) -> None:
    answer = await send_command(
        service.broker, app.topology, _cut("c9", agreement="nope"), timeout=20
    )
    assert answer.outcome == "refused"
    assert "no agreement nope" in answer.error
    (letter,) = await list_dead_letters(service.broker, app.topology)
    assert letter.consumer == app.topology.command_consumer
    assert "no agreement nope" in letter.reason
