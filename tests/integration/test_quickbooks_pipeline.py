"""QuickBooks to the ledger through the running service: connect by OAuth, then changes in
the emulator arrive as signed webhooks, are re-read and land in the store exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors.quickbooks.platform import QuickBooks
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.quickbooks.writeback import doc_number
from debtsale.agreement import sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
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
from testkit.quickbooks import connect_in_browser, quickbooks
from testkit.service import eventually, running_service

pytestmark = [pytest.mark.nats, pytest.mark.anyio]
REALM = "4620816365"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    emulator = Emulator(retry_scale=0.01)
    company = emulator.company(REALM)
    customer = company.add_customer("Red Rock Diner")
    company.add_invoice(customer["Id"], "500.00", date(2025, 1, 2))
    with EmulatorServer(emulator) as server:
        yield server


@pytest.fixture
def app(
    tmp_path: Path, sqlite_url: str, nats_url: str, stream_prefix: str, emulator: EmulatorServer
) -> Forwardflow:
    port = free_port()
    fake = emulator.emulator
    settings = load_settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=sqlite_url),
        broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix, ack_wait_seconds=3),
        http=HttpSettings(port=port),
        schedule=ScheduleSettings(interval_seconds=0),
        quickbooks=QuickBooksSettings(
            client_id=fake.client_id,
            client_secret=SecretStr(fake.client_secret),
            verifier_token=SecretStr(fake.verifier_token),
            redirect_uri=f"http://127.0.0.1:{port}/callback/quickbooks",
            api_base_url=emulator.api_url_v3,
            discovery_url=emulator.discovery_url,
        ),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    fake.webhook_url = f"http://127.0.0.1:{port}/webhooks/quickbooks"
    return app


@pytest.fixture
async def service(app: Forwardflow) -> AsyncIterator[str]:
    async with running_service(app) as base:
        yield base


def _balance(app: Forwardflow, invoice_id: str) -> Decimal | None:
    with app.unit_of_work() as uow:
        receivable = uow.ledger.load(QuickBooks().tenant_of(REALM)).receivable(invoice_id)
    return receivable.balance.amount if receivable else None


async def test_connect_then_changes_flow_from_the_emulator_into_the_store(
    app: Forwardflow, emulator: EmulatorServer, service: str
) -> None:
    connected = await connect_in_browser(app)
    assert connected.status_code == 200, connected.text
    assert connected.json() == {"connected": REALM}
    assert [c.company_id for c in companies(app)] == [REALM]
    stored = quickbooks(app).tokens.load(REALM)
    with app.unit_of_work() as uow:
        sealed = uow.connection.exec_driver_sql(
            "SELECT tokens FROM platform_companies"
        ).scalar_one()
    assert stored.refresh_token.encode() not in sealed  # sealed at rest

    company = emulator.emulator.company(REALM)
    seeded = company.all("Invoice")[0]["Id"]  # there before the company was connected
    async with connect_broker(app.settings) as connection:
        published = await backfill_company(quickbooks(app, connection.broker), REALM)
    assert published >= 2  # the customer and the open invoice
    await eventually(lambda: _balance(app, seeded) == Decimal("500.00"))

    customer = company.all("Customer")[0]["Id"]
    invoice = company.add_invoice(customer, "1200.00", date(2025, 2, 3))["Id"]
    await eventually(lambda: _balance(app, invoice) == Decimal("1200.00"))

    payment = company.post_payment(customer, date(2025, 3, 1), {invoice: "200.00"})["Id"]
    await eventually(lambda: _balance(app, invoice) == Decimal("1000.00"))

    company.delete_payment(payment)  # QuickBooks says only "payment deleted"
    await eventually(lambda: _balance(app, invoice) == Decimal("1200.00"))
    assert emulator.emulator.calls.count(f"GET /v3/company/{REALM}/invoice/{invoice}") >= 3


async def test_the_sale_entry_is_posted_to_the_company_once(
    app: Forwardflow, emulator: EmulatorServer, service: str
) -> None:
    assert (await connect_in_browser(app)).status_code == 200
    company = emulator.emulator.company(REALM)
    async with connect_broker(app.settings) as connection:
        await backfill_company(quickbooks(app, connection.broker), REALM)
    seeded = company.all("Invoice")[0]["Id"]
    await eventually(lambda: _balance(app, seeded) == Decimal("500.00"))
    with app.unit_of_work() as uow:
        uow.agreements.add(sample_agreement_text())
        uow.commit()
    tenant = QuickBooks().tenant_of(REALM)
    for command in (
        CutPortfolio(
            command_id="c1",
            tenant=tenant,
            portfolio_id="P1",
            agreement_id="acme-spot-2026",
            cutoff=date(2025, 6, 30),
        ),
        ClosePortfolio(command_id="c2", portfolio_id="P1", closing=date(2025, 7, 15)),
    ):
        handle_command(app.unit_of_work(), command)
    await eventually(lambda: len(company.all("JournalEntry")) == 1)
    (entry,) = company.all("JournalEntry")
    assert entry["DocNumber"] == doc_number("sale:P1")
    assert entry["TxnDate"] == "2025-07-15"


async def test_a_forged_webhook_is_refused(app: Forwardflow, service: str) -> None:
    body = (
        b'[{"specversion":"1.0","id":"x","type":"qbo.invoice.created.v1",'
        b'"intuitentityid":"1","intuitaccountid":"' + REALM.encode() + b'"}]'
    )
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{service}/webhooks/quickbooks", content=body, headers={"intuit-signature": "Zm9v"}
        )
    assert response.status_code == 401
