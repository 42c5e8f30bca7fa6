"""Layout v2 rows: the itemization ties to the face, adjustments carry their reason, and an
account layout sums its invoices while the totals stay the reconciliation's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from debtsale.agreement import Agreement, FileLayout, Granularity
from debtsale.portfolio import Portfolio
from debtsale.salefile import sale_file_header, sale_file_rows, sale_file_summary, sold_rows
from testkit.builders import LedgerBuilder, sample_agreement


def _sold(layout: FileLayout | None = None) -> tuple[Portfolio, LedgerBuilder, Agreement]:
    book = LedgerBuilder()
    book.customer("C1")
    book.customer("C2")
    book.invoice("I1", "C1", "1000.00", invoice_date=date(2025, 1, 2))
    book.invoice("I2", "C1", "500.00", invoice_date=date(2025, 2, 2))
    book.invoice("I3", "C2", "800.00", invoice_date=date(2025, 1, 10))
    book.pay("P1", "C1", date(2025, 3, 1), {"I2": "100.00"})
    book.credit("M1", "C2", date(2025, 3, 5), {"I3": "50.00"})
    book.pay("P2", "C1", date(2025, 7, 3), {"I1": "200.00"})  # between cut-off and closing
    agreement = sample_agreement()
    if layout is not None:
        agreement = agreement.model_copy(update={"file": layout})
    portfolio = Portfolio.cut("P", agreement, book.ledger, date(2025, 6, 30))
    portfolio.close(agreement, book.ledger, date(2025, 7, 15))
    return portfolio, book, agreement


def test_each_invoice_row_itemizes_its_face_and_explains_its_adjustment() -> None:
    portfolio, book, agreement = _sold()
    header = sale_file_header(agreement)
    found = sale_file_rows(portfolio, book.ledger, agreement)
    rows = [dict(zip(header, r, strict=True)) for r in found]
    for row in rows:
        itemized = (
            Decimal(row["itemization_amount"])
            - Decimal(row["payments_since_itemization"])
            - Decimal(row["credits_since_itemization"])
            + Decimal(row["interest_since_itemization"])
            + Decimal(row["fees_since_itemization"])
        )
        assert itemized == Decimal(row["face_at_cutoff"])
        assert Decimal(row["face_at_cutoff"]) + Decimal(row["adjustments_to_close"]) == Decimal(
            row["face"]
        )
    by_id = {r["receivable_id"]: r for r in rows}
    assert by_id["I1"]["adjustment_reason"] == "payment_after_cutoff"
    assert by_id["I3"]["credits_since_itemization"] == "50.00"
    assert by_id["I1"]["charge_off_date"] == by_id["I1"]["exclusions_checked_on"] == "2025-07-15"
    assert by_id["I1"]["sol_expiry_date"] == "2030-07-03"  # IL open account: 5 years


def test_an_account_layout_sums_its_invoices_and_ties_to_the_reconciliation() -> None:
    portfolio, book, agreement = _sold(FileLayout(granularity=Granularity.ACCOUNT))
    header = sale_file_header(agreement)
    found = sale_file_rows(portfolio, book.ledger, agreement)
    rows = [dict(zip(header, r, strict=True)) for r in found]
    assert [r["customer_id"] for r in rows] == ["C1", "C2"]
    c1 = rows[0]
    assert (c1["receivable_id"], c1["invoice_count"]) == ("I1;I2", "2")
    assert c1["invoice_date"] == "2025-01-02"
    assert (c1["last_payment_date"], c1["last_payment_amount"]) == ("2025-03-01", "100.00")
    summary = sale_file_summary(portfolio, agreement)
    assert summary.totals.records == 2
    assert summary.receivables == 3
    assert summary.schema["primaryKey"] == ["customer_id"]
    recorded = list(sold_rows(portfolio, book.ledger, agreement))
    assert sum(r.face_minor for r in recorded) * Decimal("0.01") == portfolio.total_face.amount
    assert sum(r.price_minor for r in recorded) * Decimal("0.01") == portfolio.total_price.amount
    assert sum(Decimal(r["price"]) for r in rows) == portfolio.total_price.amount
