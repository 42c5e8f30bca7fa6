"""Valuation per cohort: offer beside internal recovery, with a recommendation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from debtsale.valuation import Recommendation, RecoveryAssumption, value_receivables
from testkit.builders import LedgerBuilder, sample_agreement, usd


def test_cohorts_compare_the_offer_with_internal_recovery() -> None:
    book = LedgerBuilder()
    book.customer("C1")
    for n in range(4):
        book.invoice(f"A{n}", "C1", "1000.00", invoice_date=date(2025, 1, 2))  # 91-180
    book.invoice("B0", "C1", "300.00", invoice_date=date(2024, 9, 1))  # 181-365
    book.invoice("Y0", "C1", "300.00", invoice_date=date(2025, 6, 1))  # too young
    recovery = {
        "91-180": RecoveryAssumption(Decimal("0.30"), Decimal("10")),
        "181-365": RecoveryAssumption(Decimal("0.50"), Decimal("0")),
    }
    report = value_receivables(
        book.ledger, sample_agreement(), date(2025, 6, 30), recovery=recovery
    )
    second, first = report.cohorts  # youngest cohort first
    assert (first.age_bucket, first.count, first.face) == ("181-365", 1, usd("300.00"))
    assert first.offer == usd("27.00")  # 9 %
    assert first.internal_recovery == usd("150.00")
    assert first.recommendation is Recommendation.KEEP
    assert (second.age_bucket, second.count, second.face) == ("91-180", 4, usd("4000.00"))
    assert second.offer == usd("600.00")
    assert second.internal_recovery == usd("1160.00")  # 1,200 − 4 × 10
    assert second.offer_rate == Decimal("0.1500")
    assert report.excluded == {"too_recent": 1}
    assert report.face == usd("4300.00")
    assert report.offer == first.offer + second.offer


def test_sale_is_recommended_where_the_offer_beats_internal_recovery() -> None:
    book = LedgerBuilder()
    book.customer("C1")
    book.invoice("A0", "C1", "1000.00", invoice_date=date(2025, 1, 2))
    report = value_receivables(
        book.ledger,
        sample_agreement(),
        date(2025, 6, 30),
        recovery={"91-180": RecoveryAssumption(Decimal("0.10"), Decimal("50"))},
    )
    assert report.cohorts[0].recommendation is Recommendation.SELL  # 150 > 100 − 50


def test_each_cohort_shows_the_share_of_receivables_with_each_field_buyers_ask_for() -> None:
    from debtsale.changes import Documentation

    book = LedgerBuilder()
    book.customer("C1", contact="ap@c1.test", documentation=Documentation.SIGNED_CONTRACT)
    book.customer("C2")
    for n, customer in enumerate(("C1", "C2", "C2", "C2")):
        book.invoice(f"A{n}", customer, "1000.00", invoice_date=date(2025, 1, 2))
    book.pay("P1", "C2", date(2025, 3, 1), {"A1": "10.00"})
    report = value_receivables(book.ledger, sample_agreement(), date(2025, 6, 30))
    shares = {c.documentation: c.completeness for c in report.cohorts}
    signed, invoice_only = shares["signed_contract"], shares["invoice_only"]
    assert signed["contact"] == signed["documents"] == Decimal(1)
    assert invoice_only["contact"] == invoice_only["documents"] == Decimal(0)
    assert invoice_only["last_payment"] == Decimal("0.3333")
    assert invoice_only["principal"] == invoice_only["address"] == Decimal(1)
