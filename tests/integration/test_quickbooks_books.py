"""The emulator's books read as an accountant reads them (trial balance, aging), and
forwardflow's journal entries applied to the invoices: sold ones closed, a reinstated one
open at the refund, and the application never read back as a collection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.quickbooks.client import PlatformError, QuickBooksApi
from connectors.quickbooks.mapping import (
    invoice_change,
    is_own_application,
    payment_change,
    payment_invoice_ids,
)
from connectors.quickbooks.reports import (
    aging_detail_rows,
    aging_summary_rows,
    trial_balance_rows,
)
from connectors.quickbooks.writeback import (
    Posted,
    application_number,
    apply_entries,
    post_journal_entry,
)
from debtsale.changes import InvoiceRecorded
from debtsale.codec import decode_event
from debtsale.events import JournalEntryRequested
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.books import customer_receivables
from emulators.quickbooks.server import EmulatorServer
from testkit.quickbooks_api import MemoryTokenStore, connect_company

REALM = "5550123"
ACCOUNTS = {
    "cash": "35",
    "accounts_receivable": "84",
    "allowance_for_doubtful_accounts": "85",
    "loss_on_sale_of_receivables": "90",
    "due_to_buyer": "91",
}
END = {"end_date": "2025-12-31"}


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    emulator = Emulator()
    company = emulator.company(REALM)
    a = company.add_customer("Amber Diner")["Id"]
    b = company.add_customer("Birch Garage")["Id"]
    a1 = company.add_invoice(a, "1000.00", date(2025, 1, 2), doc_number="A-1")["Id"]
    company.add_invoice(a, "500.00", date(2025, 1, 3), doc_number="A-2")
    b1 = company.add_invoice(b, "2000.00", date(2025, 1, 4), doc_number="B-1")["Id"]
    company.post_payment(a, date(2025, 3, 1), {a1: "300.00"})
    company.post_payment(b, date(2025, 3, 2), {b1: "200.00"}, credit_memo="CM-1")
    with EmulatorServer(emulator) as running:
        yield running


@pytest.fixture
def api(server: EmulatorServer) -> QuickBooksApi:
    return connect_company(server, REALM, MemoryTokenStore(), throttle_wait_s=0.01)


def _ids(server: EmulatorServer) -> dict[str, str]:
    company = server.emulator.company(REALM)
    found = {c["DisplayName"]: c["Id"] for c in company.all("Customer")}
    found.update({i["DocNumber"]: i["Id"] for i in company.all("Invoice")})
    return found


def _balances(api: QuickBooksApi) -> dict[str, Decimal]:
    """Balances by account id, debit positive; an account at zero is not in the report."""
    found: dict[str, Decimal] = defaultdict(Decimal)
    for account, (_, amount) in trial_balance_rows(api.report("TrialBalance", END)).items():
        found[account] = amount
    return found


def test_the_trial_balance_balances_and_the_aging_agrees_with_the_ledger(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    tb = _balances(api)
    assert sum(tb.values()) == 0  # debits = credits
    assert tb["84"] == Decimal("3000.00")  # 3,500 invoiced, 300 paid, 200 credited
    assert tb["4"] == Decimal("300.00")  # the payment, in Undeposited Funds
    assert tb["1"] == Decimal("-3300.00")
    detail = aging_detail_rows(api.report("AgedReceivableDetail", {"report_date": "2025-12-31"}))
    assert sorted((r["doc_num"], r["subt_open_bal"]) for r in detail) == [
        ("A-1", "700.00"),
        ("A-2", "500.00"),
        ("B-1", "1800.00"),
    ]
    assert {r["txn_type"] for r in detail} == {"Invoice"}
    summary = aging_summary_rows(api.report("AgedReceivables", {"report_date": "2025-12-31"}))
    ledger = customer_receivables(server.emulator.company(REALM))
    assert summary == {c: v for c, v in ledger.items() if v}


def _post(api: QuickBooksApi, entry: dict[str, Any]) -> Posted:
    data = {"portfolio_id": "P1", **entry}
    event = decode_event({"type": "JournalEntryRequested", "data": data})
    assert isinstance(event, JournalEntryRequested)
    journal_id, _ = post_journal_entry(api, event, ACCOUNTS)
    return Posted(journal_id, entry["entry_date"], entry.get("receivables", []))


def test_entries_applied_close_sold_invoices_and_reopen_a_reinstated_one(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    ids = _ids(server)
    a, b = ids["Amber Diner"], ids["Birch Garage"]
    a1, a2, b1 = ids["A-1"], ids["A-2"], ids["B-1"]
    sale = {
        "entry_id": "sale:P1",
        "entry_date": "2025-07-15",
        "memo": "Sale of receivables, portfolio P1",
        "lines": [
            ["cash", "300.00", "0.00", None],
            ["loss_on_sale_of_receivables", "2700.00", "0.00", None],
            ["accounts_receivable", "0.00", "1200.00", a],
            ["accounts_receivable", "0.00", "1800.00", b],
        ],
        "receivables": [
            [a, a1, "0.00", "700.00"],
            [a, a2, "0.00", "500.00"],
            [b, b1, "0.00", "1800.00"],
        ],
    }
    posted = [_post(api, sale)]
    made = apply_entries(api, "P1", [a, b], posted).made
    detail = aging_detail_rows(api.report("AgedReceivableDetail", {"report_date": "2025-12-31"}))
    assert detail == []  # no sold invoice left in the firm's aging
    assert _balances(api)["84"] == Decimal("0.00")

    # the application reads back as nothing at all: no collection, no change of face
    application = api.read("Payment", str(made[a]))
    assert application is not None
    assert application["PaymentRefNum"] == application_number("P1", a)
    assert is_own_application(application)
    assert payment_change(REALM, application, datetime.now(UTC)) is None
    assert payment_invoice_ids(application) == set()
    invoice = api.read("Invoice", a1)
    assert invoice is not None
    assert invoice["Balance"] == Decimal("0.00")
    change = invoice_change(REALM, invoice, datetime.now(UTC))
    assert isinstance(change, InvoiceRecorded)
    assert change.total.amount == Decimal("1000.00")  # the invoice's face is not touched

    # a payment after the sale, then its reclassification, then the put-back of B-1
    server.emulator.company(REALM).post_payment(a, date(2025, 8, 1), {a1: "100.00"})
    posted.append(
        _post(
            api,
            {
                "entry_id": "due:P1:A1",
                "entry_date": "2025-08-01",
                "memo": "Collected for the buyer",
                "lines": [
                    ["accounts_receivable", "100.00", "0.00", a],
                    ["due_to_buyer", "0.00", "100.00", None],
                ],
                "receivables": [[a, a1, "100.00", "0.00"]],
            },
        )
    )
    posted.append(
        _post(
            api,
            {
                "entry_id": "putback:P1:R1",
                "entry_date": "2025-08-12",
                "memo": "Put-back refund",
                "lines": [
                    ["accounts_receivable", "90.00", "0.00", b],
                    ["cash", "0.00", "90.00", None],
                ],
                "receivables": [[b, b1, "90.00", "0.00"]],
            },
        )
    )
    again = apply_entries(api, "P1", [a, b], posted)
    assert again.made == made  # rewritten in place: one application per portfolio and customer
    detail = aging_detail_rows(api.report("AgedReceivableDetail", {"report_date": "2025-12-31"}))
    assert [(r["doc_num"], r["subt_open_bal"]) for r in detail] == [("B-1", "90.00")]
    tb = _balances(api)
    assert (tb["84"], tb["91"]) == (Decimal("90.00"), Decimal("-100.00"))
    assert tb["35"] + tb["4"] == Decimal("300.00") + Decimal("300.00") + Decimal("100.00") - 90
    ledger = customer_receivables(server.emulator.company(REALM))
    assert (ledger[a], ledger[b]) == (Decimal("0.00"), Decimal("90.00"))

    before = api.read("Payment", str(made[a]))
    assert before is not None
    assert apply_entries(api, "P1", [a], posted).made == {a: made[a]}  # as wanted: left alone
    after = api.read("Payment", str(made[a]))
    assert after is not None
    assert after["SyncToken"] == before["SyncToken"]


def test_the_emulator_refuses_an_application_beyond_what_is_open(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    ids = _ids(server)
    body = {
        "CustomerRef": {"value": ids["Amber Diner"]},
        "TotalAmt": Decimal("0"),
        "Line": [
            {
                "Amount": Decimal("800.00"),
                "LinkedTxn": [{"TxnId": ids["A-1"], "TxnType": "Invoice"}],
            }
        ],
    }
    with pytest.raises(PlatformError, match="exceeds its open balance"):
        api.save("Payment", body)


def test_an_application_waits_for_the_entry_that_lets_it_balance(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    ids = _ids(server)
    b, b1 = ids["Birch Garage"], ids["B-1"]
    # B-1 was sold at 1,800 but 300 of it was paid between cut-off and closing, owed to
    # the buyer: until that payment's reclassification is posted, 1,800 cannot be applied
    server.emulator.company(REALM).post_payment(b, date(2025, 7, 10), {b1: "300.00"})
    sale = {
        "entry_id": "sale:P2",
        "entry_date": "2025-07-15",
        "memo": "Sale",
        "lines": [
            ["cash", "270.00", "0.00", None],
            ["loss_on_sale_of_receivables", "1530.00", "0.00", None],
            ["accounts_receivable", "0.00", "1800.00", b],
        ],
        "receivables": [[b, b1, "0.00", "1800.00"]],
    }
    posted = [_post(api, sale)]
    first = apply_entries(api, "P2", [b], posted)
    assert (first.made, first.waiting) == ({}, [b])
    posted.append(
        _post(
            api,
            {
                "entry_id": "due:P2:B1",
                "entry_date": "2025-07-15",
                "memo": "Owed to the buyer at close",
                "lines": [
                    ["accounts_receivable", "300.00", "0.00", b],
                    ["due_to_buyer", "0.00", "300.00", None],
                ],
                "receivables": [[b, b1, "300.00", "0.00"]],
            },
        )
    )
    second = apply_entries(api, "P2", [b], posted)
    assert list(second.made) == [b]
    assert second.waiting == []
    invoice = api.read("Invoice", b1)
    assert invoice is not None
    assert invoice["Balance"] == Decimal("0.00")
    assert customer_receivables(server.emulator.company(REALM))[b] == Decimal("0.00")
