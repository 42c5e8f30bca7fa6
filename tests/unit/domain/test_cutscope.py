"""A cut's scope: only the cohorts advised to sell, and customers left out."""

from __future__ import annotations

from datetime import date

from debtsale.cutscope import out_of_scope
from debtsale.portfolio import Portfolio
from testkit.builders import LedgerBuilder, sample_agreement

CUTOFF = date(2025, 6, 30)


def _book() -> LedgerBuilder:
    book = LedgerBuilder()
    book.customer("C1")
    book.customer("C2")
    for n in range(4):  # 91-180: offer 600 < internal 840 (default recovery): keep
        book.invoice(f"A{n}", "C1", "1000.00", invoice_date=date(2025, 1, 2))
    book.invoice("B0", "C1", "300.00", invoice_date=date(2024, 9, 1))  # 181-365: sell
    book.invoice("B1", "C2", "400.00", invoice_date=date(2024, 9, 1))  # 181-365: sell
    return book


def test_only_advised_leaves_the_cohorts_advised_to_keep() -> None:
    book = _book()
    skipped = out_of_scope(book.ledger, sample_agreement(), CUTOFF, only_advised=True)
    assert skipped == {"A0", "A1", "A2", "A3"}
    cut = Portfolio.cut("P", sample_agreement(), book.ledger, CUTOFF, taken=skipped)
    assert set(cut.lines) == {"B0", "B1"}


def test_an_excluded_customer_leaves_whatever_its_cohort() -> None:
    book = _book()
    skipped = out_of_scope(book.ledger, sample_agreement(), CUTOFF, excluded_customers=["C2"])
    assert skipped == {"B1"}
    both = out_of_scope(
        book.ledger, sample_agreement(), CUTOFF, only_advised=True, excluded_customers=["C2"]
    )
    assert both == {"A0", "A1", "A2", "A3", "B1"}


def test_no_scope_leaves_nothing_out() -> None:
    assert out_of_scope(_book().ledger, sample_agreement(), CUTOFF) == frozenset()
