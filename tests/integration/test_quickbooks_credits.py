"""A credit memo applied by a zero-total payment, then that payment voided or deleted: the
credit is withdrawn from the ledger and the invoice's face returns (notice path and CDC)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.quickbooks.cdc import catch_up
from connectors.quickbooks.client import QuickBooksApi
from connectors.quickbooks.fetch import changes_for_notice
from connectors.quickbooks.schemas import ChangeNotice
from debtsale.changes import CreditRecorded, CreditRemoved, LedgerChange
from debtsale.ledger import Ledger
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.company import EmulatedCompany
from emulators.quickbooks.server import EmulatorServer
from testkit.quickbooks_api import (
    MemoryCheckpoints,
    MemoryPaymentLinks,
    MemoryTokenStore,
    connect_company,
)

REALM = "55502"


@pytest.fixture
def company_and_api() -> Iterator[tuple[EmulatedCompany, QuickBooksApi]]:
    emulator = Emulator()
    company = emulator.company(REALM)
    with EmulatorServer(emulator) as running:
        yield company, connect_company(running, REALM, MemoryTokenStore(), throttle_wait_s=0.01)


def _notice(entity: str, entity_id: str, operation: str) -> ChangeNotice:
    return ChangeNotice(
        event_id=f"{entity}-{entity_id}-{operation}",
        realm_id=REALM,
        entity=entity,
        entity_id=entity_id,
        operation=operation,
        occurred=datetime.now(UTC),
    )


def _face(changes: list[LedgerChange], invoice_id: str) -> Decimal:
    ledger = Ledger("t")
    for change in changes:
        ledger.apply(change)
    receivable = ledger.receivable(invoice_id)
    assert receivable is not None
    return receivable.face_on(date(2030, 1, 1)).amount


@pytest.mark.parametrize("undo", ["voided", "deleted"])
def test_a_credit_application_undone_by_notice_withdraws_the_credit(
    company_and_api: tuple[EmulatedCompany, QuickBooksApi], undo: str
) -> None:
    company, api = company_and_api
    customer = company.add_customer("Acme Dental")["Id"]
    invoice = company.add_invoice(customer, "1000.00", date(2025, 1, 2))["Id"]
    links = MemoryPaymentLinks()
    seen: list[LedgerChange] = []

    def fetch(entity: str, entity_id: str, operation: str) -> None:
        fetched = changes_for_notice(api, _notice(entity, entity_id, operation), links)
        seen.extend(fetched.changes)
        fetched.remember(links)

    fetch("Invoice", invoice, "created")
    application = company.post_payment(customer, date(2025, 3, 1), {invoice: "200.00"}, "CM-1")
    fetch("Payment", application["Id"], "created")
    assert any(isinstance(c, CreditRecorded) for c in seen)
    assert _face(seen, invoice) == Decimal("800.00")

    if undo == "voided":
        company.void_payment(application["Id"])
    else:
        company.delete_payment(application["Id"])
    fetch("Payment", application["Id"], undo)
    removed = [c for c in seen if isinstance(c, CreditRemoved)]
    assert [c.credit_id for c in removed] == [f"CM-1@{application['Id']}"]
    assert _face(seen, invoice) == Decimal("1000.00")  # the balance returns


def test_a_credit_application_deleted_is_withdrawn_by_change_data_capture(
    company_and_api: tuple[EmulatedCompany, QuickBooksApi],
) -> None:
    company, api = company_and_api
    customer = company.add_customer("Acme Dental")["Id"]
    invoice = company.add_invoice(customer, "1000.00", date(2025, 1, 2))["Id"]
    application = company.post_payment(customer, date(2025, 3, 1), {invoice: "200.00"}, "CM-2")
    links, checkpoints = MemoryPaymentLinks(), MemoryCheckpoints()
    seen: list[LedgerChange] = []
    start = datetime.now(UTC) - timedelta(minutes=5)
    for entity in ("Customer", "Invoice", "Payment"):
        checkpoints.set(REALM, entity, start)
    catch_up(api, checkpoints, links, seen.extend)
    assert _face(seen, invoice) == Decimal("800.00")

    company.delete_payment(application["Id"])
    catch_up(api, checkpoints, links, seen.extend, sweep=timedelta(minutes=10))
    assert f"CM-2@{application['Id']}" in {
        c.credit_id for c in seen if isinstance(c, CreditRemoved)
    }
    assert _face(seen, invoice) == Decimal("1000.00")
