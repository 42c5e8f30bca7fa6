"""QuickBooks reads to ledger changes, on the shared fixtures parsed as the client parses them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.quickbooks.mapping import (
    customer_change,
    invoice_change,
    is_own_application,
    merge_change,
    payment_change,
    payment_invoice_ids,
)
from connectors.quickbooks.writeback import Posted, application_lines, application_number
from debtsale.changes import (
    CreditRecorded,
    CustomerMerged,
    CustomerRecorded,
    InvoiceDeleted,
    InvoiceRecorded,
    InvoiceVoided,
    PaymentDeleted,
    PaymentRecorded,
    PaymentVoided,
)
from debtsale.money import Money

FIXTURES = Path(__file__).parents[2] / "fixtures" / "quickbooks"
SEEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _load(name: str, key: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(), parse_float=Decimal)
    return data[key] if key else data


def test_an_invoice_read_is_the_whole_invoice_with_its_platform_version() -> None:
    change = invoice_change("r1", _load("qbo_invoice_entity.json"), SEEN)
    assert isinstance(change, InvoiceRecorded)
    assert (change.invoice_id, change.customer_id, change.number) == ("239", "1", "1070")
    assert (change.invoice_date, change.due_date) == (date(2015, 7, 24), date(2015, 8, 23))
    assert change.total == Money.of("150.00", "USD")
    assert change.version.updated == datetime(2015, 7, 24, 17, 35, 8, tzinfo=UTC)
    assert change.version.sequence == 0
    assert change.event_id == invoice_change("r1", _load("qbo_invoice_entity.json"), SEEN).event_id


def test_a_newer_sync_token_is_a_newer_version() -> None:
    raw = _load("qbo_invoice_entity.json")
    older = invoice_change("r1", raw, SEEN)
    newer = invoice_change("r1", {**raw, "SyncToken": "1"}, SEEN)
    assert newer.version > older.version
    assert newer.event_id != older.event_id


def test_voided_and_deleted_invoices() -> None:
    raw = _load("qbo_invoice_entity.json")
    voided = invoice_change("r1", {**raw, "TotalAmt": Decimal(0), "PrivateNote": "Voided"}, SEEN)
    assert isinstance(voided, InvoiceVoided)
    deleted = invoice_change("r1", {"Id": "239", "status": "Deleted"}, SEEN)
    assert isinstance(deleted, InvoiceDeleted)
    assert deleted.version > voided.version  # a deletion outranks what came before


def test_a_payment_read_applies_to_its_linked_invoices() -> None:
    raw = _load("qbo_payment_read_response.json", "Payment")
    change = payment_change("r1", raw, SEEN)
    assert isinstance(change, PaymentRecorded)
    assert change.payment_id == "163"
    assert change.customer_id == "20"
    assert [(a.invoice_id, a.amount) for a in change.allocations] == [
        ("70", Money.of("55.00", "USD"))
    ]
    assert change.paid_on == date(2015, 1, 16)
    assert payment_invoice_ids(raw) == {"70"}


def test_void_and_delete_responses() -> None:
    voided = payment_change("r1", _load("qbo_payment_void_response.json", "Payment"), SEEN)
    assert isinstance(voided, PaymentVoided)
    assert voided.payment_id == "33"
    deleted = payment_change("r1", _load("qbo_payment_delete_response.json", "Payment"), SEEN)
    assert isinstance(deleted, PaymentDeleted)
    assert deleted.payment_id == "73"


def test_a_zero_payment_linking_a_credit_memo_applies_the_credit() -> None:
    raw = _load("qbo_payment_read_response.json", "Payment")
    raw = {
        **raw,
        "TotalAmt": Decimal(0),
        "Line": [
            {"Amount": Decimal("40.00"), "LinkedTxn": [{"TxnId": "70", "TxnType": "Invoice"}]},
            {"Amount": Decimal("40.00"), "LinkedTxn": [{"TxnId": "5", "TxnType": "CreditMemo"}]},
        ],
    }
    change = payment_change("r1", raw, SEEN)
    assert isinstance(change, CreditRecorded)
    assert change.credit_id == "5@163"
    assert [(a.invoice_id, a.amount.amount) for a in change.allocations] == [
        ("70", Decimal("40.00"))
    ]


def _zero_payment(ref: str | None) -> dict[str, Any]:
    raw = _load("qbo_payment_read_response.json", "Payment")
    return {
        **raw,
        "TotalAmt": Decimal(0),
        "PaymentRefNum": ref,
        "Line": [
            {"Amount": Decimal("700.00"), "LinkedTxn": [{"TxnId": "70", "TxnType": "Invoice"}]},
            {"Amount": Decimal("700.00"), "LinkedTxn": [{"TxnId": "9", "TxnType": "JournalEntry"}]},
        ],
    }


def test_forwardflows_own_application_is_no_change_at_all() -> None:
    own = _zero_payment(application_number("P1", "58"))
    assert is_own_application(own)
    assert payment_change("r1", own, SEEN) is None  # never a collection on a sold receivable
    assert payment_invoice_ids(own) == set()  # nor a link to remember


def test_someone_elses_zero_payment_applying_a_journal_credit_is_a_credit() -> None:
    for ref in (None, "FF12", "1001"):  # not one of forwardflow's numbers
        raw = _zero_payment(ref)
        assert not is_own_application(raw)
        change = payment_change("r1", raw, SEEN)
        assert isinstance(change, CreditRecorded)  # lowers the face; it is not money
        assert change.credit_id == "JE-9@163"


def test_a_customer_becomes_a_debtor_profile_and_merges_rekey() -> None:
    raw = {
        "Id": "20",
        "SyncToken": "3",
        "DisplayName": "Red Rock Diner",
        "CompanyName": "Red Rock Diner LLC",
        "BillAddr": {"Line1": "1 Rock Rd", "City": "Bayshore", "CountrySubDivisionCode": "CA"},
        "PrimaryEmailAddr": {"Address": "ap@redrock.test"},
        "MetaData": {"LastUpdatedTime": "2015-01-16T15:08:12-08:00"},
        "SomethingNew": True,
    }
    change = customer_change("r1", raw, SEEN)
    assert isinstance(change, CustomerRecorded)
    assert change.profile.legal_name == "Red Rock Diner LLC"
    assert change.profile.dba == "Red Rock Diner"
    assert change.profile.address.region == "CA"
    merged = merge_change("r1", "9", "20", SEEN)
    assert isinstance(merged, CustomerMerged)
    assert (merged.merged_id, merged.into_id) == ("9", "20")


def test_an_application_links_every_entry_and_each_invoice_by_its_net_credit() -> None:
    sale = Posted(
        "9", "2026-11-13", [("58", "70", "0.00", "700.00"), ("58", "71", "0.00", "300.00")]
    )
    due = Posted("10", "2026-11-20", [("58", "70", "120.00", "0.00")])
    other = Posted("11", "2026-11-21", [("99", "80", "50.00", "0.00")])  # another customer
    lines = application_lines("58", [sale, due, other])
    assert lines is not None
    linked = [
        (row["LinkedTxn"][0]["TxnType"], row["LinkedTxn"][0]["TxnId"], row["Amount"])
        for row in lines
    ]
    assert linked == [
        ("Invoice", "70", Decimal("580.00")),
        ("Invoice", "71", Decimal("300.00")),
        ("JournalEntry", "9", Decimal("1000.00")),
        ("JournalEntry", "10", Decimal("120.00")),
    ]
    charges = sum(a for kind, _, a in linked if kind == "Invoice") + Decimal("120.00")
    assert charges == Decimal("1000.00")  # a zero-total payment: charges equal credits
    assert application_lines("58", [due]) is None  # a charge with no credit yet: it waits
