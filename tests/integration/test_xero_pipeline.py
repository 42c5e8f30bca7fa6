"""Xero to the portfolio through the running service and real NATS: connect by OAuth, then a
payment made after the cut-off arrives by the INVOICE UPDATE webhook within 5 s, or by
polling alone when the webhook is lost; a payment deleted after the sale is withdrawn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.xero.platform import Xero
from debtsale.agreement import sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio
from emulators.xero.app import XeroEmulator
from emulators.xero.org import EmulatedOrganisation
from emulators.xero.server import XeroServer
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.runtime import connect_broker
from forwardflow.companies import backfill_company, companies
from forwardflow.net import free_port
from forwardflow.settings import (
    BrokerSettings,
    DatabaseSettings,
    HttpSettings,
    ScheduleSettings,
    load_settings,
)
from forwardflow.store import upgrade
from handlers.registry import handle_command
from testkit.service import eventually, running_service
from testkit.xero import connect_in_browser, xero

pytestmark = [pytest.mark.nats, pytest.mark.anyio]


@pytest.fixture
def emulator() -> Iterator[XeroServer]:
    emulator = XeroEmulator(retry_scale=0.01)
    emulator.limits.per_minute = 10_000
    org = emulator.organisation(name="Red Rock Dental")
    emulator.organisation(name="A sister practice on the same grant")
    contact = org.add_contact("Red Rock Diner")["ContactID"]
    org.add_invoice(contact, "500.00", date(2025, 1, 2))
    with XeroServer(emulator) as server:
        yield server


def _org(server: XeroServer) -> EmulatedOrganisation:
    return next(iter(server.emulator.orgs.values()))


def _app(
    tmp: Path, db: str, nats: str, prefix: str, server: XeroServer, poll_s: float
) -> Forwardflow:
    port = free_port()
    settings = load_settings(
        data_dir=tmp,
        database=DatabaseSettings(url=db),
        broker=BrokerSettings(url=nats, stream_prefix=prefix, ack_wait_seconds=3),
        http=HttpSettings(port=port),
        schedule=ScheduleSettings(interval_seconds=0),
        xero=server.settings(
            redirect_uri=f"http://127.0.0.1:{port}/callback/xero",
            catch_up_minutes=poll_s / 60,
            calls_per_minute=10_000,
        ),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    server.emulator.send_webhooks_to(f"http://127.0.0.1:{port}/webhooks/xero")
    return app


async def _serve(app: Forwardflow) -> AsyncIterator[None]:
    async with running_service(app):
        yield


def _tenant(server: XeroServer) -> str:
    return Xero().tenant_of(_org(server).tenant_id)


def _balance(app: Forwardflow, server: XeroServer, invoice_id: str) -> Decimal | None:
    with app.unit_of_work() as uow:
        receivable = uow.ledger.load(_tenant(server)).receivable(invoice_id)
    return receivable.balance.amount if receivable else None


def _closed_face(app: Forwardflow, invoice_id: str) -> Decimal | None:
    """Close the portfolio; the sold line's face then (the payments before it taken off)."""
    handle_command(
        app.unit_of_work(),
        ClosePortfolio(command_id="c2", portfolio_id="P1", closing=date(2025, 7, 15)),
    )
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get("P1")
    final = portfolio.lines[invoice_id].final_face if portfolio else None
    return final.amount if final else None


async def _connected_and_cut(app: Forwardflow, server: XeroServer, *, close: bool) -> str:
    """Connect through the browser, backfill, sell the seeded invoice: its id."""
    answer = await connect_in_browser(app)
    assert answer.status_code == 200, answer.text
    org = _org(server)
    assert answer.json() == {"connected": org.tenant_id}  # the first of the grant's two
    assert [c.company_id for c in companies(app)] == [org.tenant_id]
    async with connect_broker(app.settings) as connection:
        assert await backfill_company(xero(app, connection.broker), org.tenant_id) >= 2
    (invoice,) = org.invoices
    await eventually(lambda: _balance(app, server, invoice) == Decimal("500.00"))
    with app.unit_of_work() as uow:
        uow.agreements.add(sample_agreement_text())
        uow.commit()
    commands: list[CutPortfolio | ClosePortfolio] = [
        CutPortfolio(
            command_id="c1",
            tenant=_tenant(server),
            portfolio_id="P1",
            agreement_id="acme-spot-2026",
            cutoff=date(2025, 6, 30),
        )
    ]
    if close:
        commands.append(
            ClosePortfolio(command_id="c2", portfolio_id="P1", closing=date(2025, 7, 15))
        )
    for command in commands:
        handle_command(app.unit_of_work(), command)
    return invoice


@pytest.fixture
async def webhooked(
    tmp_path: Path, sqlite_url: str, nats_url: str, stream_prefix: str, emulator: XeroServer
) -> AsyncIterator[Forwardflow]:
    app = _app(tmp_path, sqlite_url, nats_url, stream_prefix, emulator, poll_s=900)
    async for _ in _serve(app):
        yield app


@pytest.fixture
async def polled(
    tmp_path: Path, sqlite_url: str, nats_url: str, stream_prefix: str, emulator: XeroServer
) -> AsyncIterator[Forwardflow]:
    app = _app(tmp_path, sqlite_url, nats_url, stream_prefix, emulator, poll_s=1.0)
    async for _ in _serve(app):
        yield app


async def test_a_payment_after_the_cut_off_arrives_by_the_invoice_webhook_within_5_s(
    webhooked: Forwardflow, emulator: XeroServer
) -> None:
    app = webhooked
    assert emulator.emulator.sender is not None  # Xero checks the endpoint before enabling it
    assert await asyncio.to_thread(emulator.emulator.sender.intent_to_receive)
    invoice = await _connected_and_cut(app, emulator, close=False)
    org = _org(emulator)
    org.pay(invoice, "120.00", date(2025, 7, 5))  # Xero sends no payment event: only INVOICE
    await eventually(lambda: _balance(app, emulator, invoice) == Decimal("380.00"), 5)
    assert _closed_face(app, invoice) == Decimal("380.00")
    assert any(call.startswith("GET /api.xro/2.0/Payments/") for call in emulator.emulator.calls)
    with app.unit_of_work() as uow:
        sealed = uow.connection.exec_driver_sql(
            "SELECT tokens FROM platform_companies"
        ).scalar_one()
    first = xero(app).tokens.load(org.tenant_id)
    assert first.refresh_token.encode() not in sealed  # sealed at rest

    again = await connect_in_browser(app)  # the same two ticked once more
    sister = next(t for t in emulator.emulator.orgs if t != org.tenant_id)
    assert again.json() == {"connected": sister}  # the one not connected yet, its own grant
    assert xero(app).tokens.load(sister).refresh_token != first.refresh_token


async def test_a_lost_webhook_is_healed_by_polling(
    polled: Forwardflow, emulator: XeroServer
) -> None:
    app = polled
    invoice = await _connected_and_cut(app, emulator, close=False)
    assert emulator.emulator.sender is not None
    emulator.emulator.sender.lost = 10  # every webhook from now on is lost
    _org(emulator).pay(invoice, "120.00", date(2025, 7, 5))
    await eventually(lambda: _balance(app, emulator, invoice) == Decimal("380.00"), 10)
    assert _closed_face(app, invoice) == Decimal("380.00")


async def test_a_payment_deleted_after_the_sale_is_withdrawn_and_its_journal_reversed(
    webhooked: Forwardflow, emulator: XeroServer
) -> None:
    app = webhooked
    invoice = await _connected_and_cut(app, emulator, close=True)
    org = _org(emulator)
    await eventually(lambda: len(org.manual_journals) == 1)  # the sale
    payment = org.pay(invoice, "120.00", date(2025, 8, 1))["PaymentID"]
    await eventually(lambda: _balance(app, emulator, invoice) == Decimal("380.00"), 5)
    await eventually(lambda: len(org.manual_journals) == 2)  # collected for the buyer
    org.delete_payment(payment)
    await eventually(lambda: _balance(app, emulator, invoice) == Decimal("500.00"), 5)
    await eventually(lambda: len(org.manual_journals) == 3)  # and reversed
    collected, reversed_ = [
        {x["AccountCode"]: x["LineAmount"] for x in journal["JournalLines"]}
        for journal in list(org.manual_journals.values())[1:]
    ]
    assert collected == {code: -amount for code, amount in reversed_.items()}
