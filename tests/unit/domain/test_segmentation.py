"""Segmentation, the statute of limitations and eligibility."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from debtsale.changes import Documentation
from debtsale.eligibility import Criterion, assess
from debtsale.lifecycle import ExclusionReason
from debtsale.segmentation import age_bucket, balance_tier, segment
from debtsale.statute import ClaimType, StatuteTable
from testkit.builders import LedgerBuilder, sample_agreement

STATUTE = StatuteTable.shipped()


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "0-90"),
        (90, "0-90"),
        (91, "91-180"),
        (180, "91-180"),
        (181, "181-365"),
        (365, "181-365"),
        (366, "365+"),
    ],
)
def test_age_buckets(dpd: int, bucket: str) -> None:
    assert age_bucket(dpd) == bucket


@pytest.mark.parametrize(
    ("face", "tier"),
    [
        ("499.99", "<500"),
        ("500", "500-2000"),
        ("2000", "500-2000"),
        ("2000.01", "2000-10000"),
        ("10000", "2000-10000"),
        ("10000.01", ">10000"),
    ],
)
def test_balance_tiers(face: str, tier: str) -> None:
    assert balance_tier(Decimal(face)) == tier


def test_balance_tier_bounds_are_configurable() -> None:
    assert balance_tier(Decimal(150), (Decimal(100), Decimal(1000))) == "100-1000"


def test_the_shipped_statute_table_is_versioned_and_covers_every_state() -> None:
    assert STATUTE.version == "2026-11-us-general"
    assert len(STATUTE.years) == 51  # 50 states and DC
    assert STATUTE.years["CA"][ClaimType.WRITTEN_CONTRACT] == 4
    assert STATUTE.years["IL"][ClaimType.OPEN_ACCOUNT] == 5


def test_expiry_runs_from_the_later_of_default_and_last_payment() -> None:
    limitation = STATUTE.limitation(
        "CA", Documentation.INVOICE_ONLY, date(2020, 1, 31), date(2021, 3, 15)
    )
    assert limitation.expires_on == date(2025, 3, 15)
    assert limitation.claim_type is ClaimType.OPEN_ACCOUNT
    assert limitation.time_barred(date(2025, 3, 15))
    assert not limitation.time_barred(date(2025, 3, 14))
    assert limitation.near_expiry(date(2024, 10, 1), within_months=6)
    assert not limitation.near_expiry(date(2024, 9, 1), within_months=6)


def test_a_signed_contract_is_a_written_claim_and_unknown_states_use_the_default() -> None:
    written = STATUTE.limitation("IL", Documentation.SIGNED_CONTRACT, date(2020, 1, 1), None)
    assert (written.years, written.claim_type) == (10, ClaimType.WRITTEN_CONTRACT)
    unknown = STATUTE.limitation("ZZ", Documentation.INVOICE_ONLY, date(2020, 1, 1), None)
    assert unknown.years == 3


def test_a_replacement_table_can_be_loaded() -> None:
    table = StatuteTable.from_toml(
        'version = "v2"\n[default]\nwritten_contract = 1\n'
        "open_account = 1\n[states]\nTX = { written_contract = 2, "
        "open_account = 2 }\n"
    )
    assert table.version == "v2"
    assert table.years["TX"][ClaimType.OPEN_ACCOUNT] == 2


def _book() -> LedgerBuilder:
    book = LedgerBuilder()
    book.customer("C1", region="TX")
    return book


def test_time_barred_receivables_are_never_eligible() -> None:
    book = _book()
    book.invoice("I-old", "C1", "800.00", invoice_date=date(2019, 1, 1))  # TX: 4 years
    receivable = book.ledger.receivable("I-old")
    assert receivable is not None
    verdict = assess(
        receivable, book.ledger.profile("C1"), sample_agreement(), date(2025, 6, 30), STATUTE
    )
    assert not verdict.eligible
    assert ExclusionReason.TIME_BARRED.value in verdict.reasons


def test_eligibility_names_every_reason_against() -> None:
    book = _book()
    book.invoice("I1", "C1", "10.00", invoice_date=date(2025, 6, 1))
    receivable = book.ledger.receivable("I1")
    assert receivable is not None
    verdict = assess(
        receivable,
        book.ledger.profile("C1"),
        sample_agreement(),
        date(2025, 6, 30),
        STATUTE,
        {ExclusionReason.BANKRUPTCY},
    )
    assert verdict.reasons == (
        Criterion.TOO_RECENT.value,
        Criterion.BALANCE_OUT_OF_RANGE.value,
        ExclusionReason.BANKRUPTCY.value,
    )


def test_medical_receivables_are_excluded_unless_allowed() -> None:
    book = LedgerBuilder()
    book.customer("C1", medical=True)
    book.invoice("I1", "C1", "800.00", invoice_date=date(2025, 1, 2))
    receivable = book.ledger.receivable("I1")
    assert receivable is not None
    verdict = assess(
        receivable, book.ledger.profile("C1"), sample_agreement(), date(2025, 6, 30), STATUTE
    )
    assert verdict.reasons == (ExclusionReason.MEDICAL.value,)


def test_near_expiry_is_flagged_but_still_eligible() -> None:
    book = _book()
    book.invoice("I1", "C1", "800.00", invoice_date=date(2021, 5, 1))  # due 2021-05-31 + 4 y
    receivable = book.ledger.receivable("I1")
    assert receivable is not None
    verdict = assess(
        receivable, book.ledger.profile("C1"), sample_agreement(), date(2025, 3, 1), STATUTE
    )
    assert verdict.eligible
    assert verdict.near_expiry


def test_segment_carries_what_a_buyer_prices() -> None:
    book = LedgerBuilder()
    book.customer(
        "C1",
        region="NY",
        documentation=Documentation.SIGNED_CONTRACT,
        personal_guarantee=True,
        industry="legal",
    )
    book.invoice("I1", "C1", "2500.00", invoice_date=date(2025, 1, 2))
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "100.00"})
    receivable = book.ledger.receivable("I1")
    assert receivable is not None
    found = segment(receivable, book.ledger.profile("C1"), date(2025, 6, 30), STATUTE)
    assert found.cohort == ("91-180", "2000-10000", "signed_contract")
    assert found.payment_history
    assert found.personal_guarantee
    assert (found.industry, found.location) == ("legal", "NY")
    assert found.limitation.expires_on == date(2031, 3, 1)  # NY written: 6 y from last payment
