"""CDC catch-up against the emulator: windows at the cap, checkpoint after publishing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.quickbooks.cdc import catch_up
from connectors.quickbooks.client import QuickBooksApi
from debtsale.changes import InvoiceRecorded, LedgerChange, PaymentDeleted
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
from testkit.quickbooks_api import (
    MemoryCheckpoints,
    MemoryPaymentLinks,
    MemoryTokenStore,
    connect_company,
)

REALM = "55501"
CAP = 20


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    emulator = Emulator(cdc_cap=CAP)
    company = emulator.company(REALM)
    customer = company.add_customer("Acme Dental")
    for n in range(45):  # more than two CDC answers' worth, within a second or two
        company.add_invoice(customer["Id"], f"{100 + n}.00", date(2025, 1, 2))
    with EmulatorServer(emulator) as running:
        yield running


@pytest.fixture
def api(server: EmulatorServer) -> QuickBooksApi:
    return connect_company(server, REALM, MemoryTokenStore(), throttle_wait_s=0.01)


def test_an_answer_at_the_cap_is_read_by_windows_and_nothing_is_missed(
    api: QuickBooksApi,
) -> None:
    published: list[LedgerChange] = []
    checkpoints = MemoryCheckpoints()
    report = catch_up(api, checkpoints, MemoryPaymentLinks(), published.extend, cap=CAP)
    assert report.windowed == ["Invoice"]
    invoices = {c.invoice_id for c in published if isinstance(c, InvoiceRecorded)}
    assert len(invoices) == 45
    assert checkpoints.get(REALM, "Invoice") is not None


def test_the_checkpoint_moves_only_after_publishing(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    checkpoints = MemoryCheckpoints()
    start = datetime.now(UTC) - timedelta(minutes=5)
    for entity in ("Customer", "Invoice", "Payment"):
        checkpoints.set(REALM, entity, start)
    company = server.emulator.company(REALM)
    customer = company.all("Customer")[0]["Id"]
    invoice = company.all("Invoice")[0]["Id"]
    payment = company.post_payment(customer, date(2025, 2, 1), {invoice: "10.00"})["Id"]
    company.delete_payment(payment)

    def crash(changes: list[LedgerChange]) -> None:
        raise ConnectionError("the broker went away")

    with pytest.raises(ConnectionError):
        catch_up(api, checkpoints, MemoryPaymentLinks(), crash, cap=CAP)
    assert checkpoints.get(REALM, "Customer") == start  # not moved: nothing was published

    published: list[LedgerChange] = []
    catch_up(api, checkpoints, MemoryPaymentLinks(), published.extend, cap=CAP)
    assert any(isinstance(c, PaymentDeleted) and c.payment_id == payment for c in published)
    assert checkpoints.get(REALM, "Payment") > start  # type: ignore[operator]
