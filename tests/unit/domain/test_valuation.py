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
