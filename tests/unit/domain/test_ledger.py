"""Ledger facts: newest version wins, duplicates are no-ops, face on any date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from debtsale.changes import Allocation, InvoiceRecorded, PaymentRecorded, Version
from debtsale.errors import DomainError
from debtsale.ledger import ApplicationKind, Ledger, Removal
from debtsale.money import Money
from testkit.builders import LedgerBuilder, usd

D = date(2025, 1, 10)


def test_the_same_change_twice_is_a_no_op() -> None:
    book = LedgerBuilder()
    change = book.invoice("I1", "C1", "100.00", invoice_date=D)
    assert not book.ledger.apply(change)
    assert book.ledger.receivable("I1").original == usd("100.00")  # type: ignore[union-attr]


def test_an_older_version_never_overwrites_a_newer_one() -> None:
    book = LedgerBuilder()
    older = book.invoice("I1", "C1", "100.00", invoice_date=D)
    book.invoice("I1", "C1", "120.00", invoice_date=D)
    assert not book.ledger.apply(older)
    assert book.ledger.receivable("I1").original == usd("120.00")  # type: ignore[union-attr]


def test_version_orders_by_time_then_sequence() -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    assert Version(t, 1) < Version(t, 2) < Version(datetime(2025, 1, 2, tzinfo=UTC), 0)
    with pytest.raises(DomainError, match=r"version\.timezone"):
        Version(datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test


def test_one_payment_across_several_invoices() -> None:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "100.00", invoice_date=D)
    book.invoice("I2", "C1", "200.00", invoice_date=D)
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "100.00", "I2": "50.00"})
    assert book.ledger.receivable("I1").balance == usd("0.00")  # type: ignore[union-attr]
    assert book.ledger.receivable("I2").balance == usd("150.00")  # type: ignore[union-attr]
    assert book.ledger.payment_invoices("P1") == ("I1", "I2")


def test_face_on_a_date_counts_only_what_was_effective_by_then() -> None:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "1000.00", invoice_date=D)
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "100.00"})
    book.credit("CM1", "C1", date(2025, 4, 1), {"I1": "50.00"})
    receivable = book.ledger.receivable("I1")
    assert receivable is not None
    assert receivable.face_on(date(2025, 2, 28)) == usd("1000.00")
    assert receivable.face_on(date(2025, 3, 1)) == usd("900.00")
    assert receivable.face_on(date(2025, 4, 1)) == usd("850.00")
    assert [a.kind for a in receivable.applications] == [
        ApplicationKind.PAYMENT,
        ApplicationKind.CREDIT,
    ]


def test_a_changed_payment_replaces_its_allocations() -> None:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "100.00", invoice_date=D)
    book.invoice("I2", "C1", "100.00", invoice_date=D)
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "60.00"})
    book.pay("P1", "C1", date(2025, 3, 1), {"I2": "60.00"})  # re-applied to another invoice
    assert book.ledger.receivable("I1").balance == usd("100.00")  # type: ignore[union-attr]
    assert book.ledger.receivable("I2").balance == usd("40.00")  # type: ignore[union-attr]


@pytest.mark.parametrize("remove", ["void_payment", "delete_payment"])
def test_a_voided_or_deleted_payment_no_longer_reduces_the_invoice(remove: str) -> None:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "100.00", invoice_date=D)
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "60.00"})
    getattr(book, remove)("P1")
    assert book.ledger.receivable("I1").balance == usd("100.00")  # type: ignore[union-attr]


def test_a_stale_payment_snapshot_after_its_deletion_is_ignored() -> None:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "100.00", invoice_date=D)
    created = book.pay("P1", "C1", date(2025, 3, 1), {"I1": "60.00"})
    book.delete_payment("P1")
    assert not book.ledger.apply(created)  # a webhook retry of the old version
    assert book.ledger.receivable("I1").balance == usd("100.00")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("remove", "removal"), [("void_invoice", Removal.VOIDED), ("delete_invoice", Removal.DELETED)]
)
def test_voided_and_deleted_invoices_owe_nothing(remove: str, removal: Removal) -> None:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "100.00", invoice_date=D)
    getattr(book, remove)("I1")
    receivable = book.ledger.receivable("I1")
    assert receivable is not None
    assert receivable.removal is removal
    assert receivable.balance.is_zero


def test_merged_customers_re_key_their_invoices_in_any_order() -> None:
    book = LedgerBuilder()
    merge = book.merge("C1", "C2")
    book.invoice("I1", "C1", "100.00", invoice_date=D)
    assert book.ledger.receivable("I1").customer_id == "C2"  # type: ignore[union-attr]
    replay = Ledger("t1")
    for change in reversed(book.changes):
        replay.apply(change)
    assert replay.receivable("I1").customer_id == "C2"  # type: ignore[union-attr]
    assert merge in book.changes


def test_a_customer_cannot_merge_into_itself() -> None:
    with pytest.raises(DomainError, match=r"merge\.distinct"):
        LedgerBuilder().merge("C1", "C1")


def test_a_face_never_goes_below_zero_on_over_application() -> None:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "100.00", invoice_date=D)
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "80.00"})
    book.credit("CM1", "C1", date(2025, 3, 2), {"I1": "80.00"})
    assert book.ledger.receivable("I1").balance == usd("0.00")  # type: ignore[union-attr]


def test_applications_in_another_currency_are_not_counted() -> None:
    ledger = Ledger("t1")
    at = Version(datetime(2025, 1, 1, tzinfo=UTC))
    ledger.apply(
        InvoiceRecorded(
            event_id="e1",
            version=at,
            invoice_id="I1",
            customer_id="C1",
            number="1",
            invoice_date=D,
            due_date=None,
            total=usd("10.00"),
        )
    )
    ledger.apply(
        PaymentRecorded(
            event_id="e2",
            version=at,
            payment_id="P1",
            customer_id="C1",
            paid_on=D,
            recorded_on=D,
            allocations=(Allocation("I1", Money.of("5.00", "EUR")),),
        )
    )
    receivable = ledger.receivable("I1")
    assert receivable is not None
    assert receivable.balance == usd("10.00")
    assert receivable.default_date == D  # no due date: the invoice date
