"""Properties over random histories: order and duplicates never matter; money ties out."""

from __future__ import annotations

import csv
import io
import random
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from debtsale.agreement import CutoffPolicy, RefundMethod
from debtsale.changes import LedgerChange
from debtsale.journal import sale_entry
from debtsale.ledger import Ledger
from debtsale.money import Money, total
from debtsale.portfolio import Portfolio
from debtsale.putback import refund_for
from debtsale.remittance import amounts_due, paid_before_sale
from debtsale.reports import ReconciliationReport, as_data
from debtsale.salefile import SaleFileTotals, SoldRow, csv_lines, in_chunks, tie_out_problems
from testkit.builders import LedgerBuilder, sample_agreement
from tests.strategies import histories

CUTOFF = date(2025, 6, 30)
CLOSING = date(2025, 7, 15)
START = date(2024, 1, 1)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("4000"), places=2)


def _reports(ledger: Ledger, policy: CutoffPolicy) -> tuple[object, object, object]:
    agreement = sample_agreement(cutoff_policy=policy)
    portfolio = Portfolio.cut("P", agreement, ledger, CUTOFF)
    portfolio.close(agreement, ledger, CLOSING)
    return (
        as_data(ReconciliationReport.of(portfolio)),
        as_data(amounts_due(portfolio, ledger, agreement.remittance)),
        as_data(paid_before_sale(portfolio, ledger)),
    )


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.sampled_from(list(CutoffPolicy)))
def test_shuffled_duplicated_delivery_equals_the_ordered_stream_applied_once(
    book: LedgerBuilder, rnd: random.Random, policy: CutoffPolicy
) -> None:
    deliveries = book.changes + rnd.choices(book.changes, k=len(book.changes))
    rnd.shuffle(deliveries)
    replay = Ledger(book.ledger.tenant)
    for change in deliveries:
        replay.apply(change)
    assert replay.snapshot() == book.ledger.snapshot()
    for receivable in book.ledger.receivables():
        other = replay.receivable(receivable.id)
        assert other is not None
        for day in (CUTOFF, CLOSING, START):
            assert other.face_on(day) == receivable.face_on(day)
    assert _reports(replay, policy) == _reports(book.ledger, policy)


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from(list(CutoffPolicy)))
def test_money_ties_out_to_the_cent(book: LedgerBuilder, policy: CutoffPolicy) -> None:
    agreement = sample_agreement(cutoff_policy=policy)
    portfolio = Portfolio.cut("P", agreement, book.ledger, CUTOFF)
    assert portfolio.total_price_at_cutoff == total(
        (line.price_at_cutoff for line in portfolio.lines.values()), "USD"
    )
    portfolio.close(agreement, book.ledger, CLOSING)
    report = ReconciliationReport.of(portfolio)
    # reconciliation totals are the sums of their lines, and each line ties out
    for name in ("face_at_cutoff", "adjustments", "final_face", "price", "owed_to_buyer"):
        assert getattr(report, name) == total((getattr(line, name) for line in report.lines), "USD")
    for line in report.lines:
        assert line.face_at_cutoff + line.adjustments == line.final_face
        assert line.final_face >= Money.zero("USD")
    # the portfolio price is the sum of receivable prices, each rate × final face
    assert portfolio.total_price == report.price
    for line in portfolio.sold_lines():
        assert line.final_face is not None
        assert line.price == line.final_face.times(line.rate)
    # the sale entry balances (JournalEntry refuses to exist otherwise) and credits the face
    if portfolio.sold_lines():
        entry = sale_entry(portfolio)
        assert entry.amount == portfolio.total_face
    assert portfolio.loss_on_sale == portfolio.total_face - portfolio.total_price


@given(
    amounts,
    st.decimals(min_value=Decimal("-100"), max_value=Decimal("10000"), places=2),
    st.sampled_from(list(RefundMethod)),
)
def test_refund_is_between_zero_and_the_price(
    price: Decimal, collected: Decimal, method: RefundMethod
) -> None:
    refund = refund_for(method, Money.of(price, "USD"), Money.of(collected, "USD"))
    assert Money.zero("USD") <= refund <= Money.of(price, "USD")


@given(
    st.lists(amounts, min_size=1, max_size=30),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.5"), places=4),
)
def test_price_is_the_sum_of_rounded_receivable_prices(faces: list[Decimal], rate: Decimal) -> None:
    prices = [Money.of(face, "USD").times(rate) for face in faces]
    summed = total(prices, "USD")
    assert summed.amount == sum(p.amount for p in prices)
    # never more than half a cent per receivable away from rate × total face
    exact = sum(faces) * rate
    assert abs(summed.amount - exact) <= Decimal("0.005") * len(faces)


def _close_midway(
    before: list[LedgerChange], after: list[LedgerChange], policy: CutoffPolicy
) -> tuple[object, object, object, object]:
    agreement = sample_agreement(cutoff_policy=policy)
    ledger = Ledger("t1")
    for change in before:
        ledger.apply(change)
    portfolio = Portfolio.cut("P", agreement, ledger, CUTOFF)
    portfolio.close(agreement, ledger, CLOSING)
    for change in after:
        ledger.apply(change)
    return (
        as_data(ReconciliationReport.of(portfolio)),
        as_data(amounts_due(portfolio, ledger, agreement.remittance)),
        as_data(paid_before_sale(portfolio, ledger)),
        ledger.snapshot(),
    )


@settings(max_examples=150, deadline=None)
@given(
    histories(), st.data(), st.randoms(use_true_random=False), st.sampled_from(list(CutoffPolicy))
)
def test_changes_arriving_around_the_close_give_the_same_sale_and_amounts_due(
    book: LedgerBuilder, data: st.DataObject, rnd: random.Random, policy: CutoffPolicy
) -> None:
    """What arrived before the close is shuffled and duplicated, and so is what came after:
    the sale, the amounts due to the buyer and the paid-before-sale candidates stay the same."""
    split = data.draw(st.integers(0, len(book.changes)))
    before, after = book.changes[:split], book.changes[split:]

    def delivered(changes: list[LedgerChange]) -> list[LedgerChange]:
        copies = changes + rnd.choices(changes, k=len(changes)) if changes else []
        rnd.shuffle(copies)
        return copies

    assert _close_midway(delivered(before), delivered(after), policy) == _close_midway(
        before, after, policy
    )


_FIELD = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(st.lists(st.lists(_FIELD, min_size=1, max_size=5), max_size=30))
def test_csv_lines_read_back_as_the_rows(rows: list[list[str]]) -> None:
    text = "".join(csv_lines(rows))
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed == rows


@given(
    st.lists(
        st.tuples(st.binary(max_size=20), st.integers(0, 10**9), st.integers(0, 10**7)),
        max_size=60,
    ),
    st.integers(1, 25),
)
def test_chunks_keep_every_byte_and_cent_in_order(
    rows: list[tuple[bytes, int, int]], size: int
) -> None:
    sold = [SoldRow(*row) for row in rows]
    chunks = list(in_chunks(sold, size))
    assert b"".join(c.data for c in chunks) == b"".join(r.line for r in sold)
    assert sum(c.rows for c in chunks) == len(sold)
    assert all(0 < c.rows <= size for c in chunks)
    assert sum(c.face_minor for c in chunks) == sum(r.face_minor for r in sold)
    assert sum(c.price_minor for c in chunks) == sum(r.price_minor for r in sold)


def test_a_cent_off_is_named_in_the_currency_unit() -> None:
    expected = SaleFileTotals(2, Money.of("100.00", "USD"), Money.of("5.00", "USD"))
    assert tie_out_problems(expected, 2, 10_000, 500) == []
    assert tie_out_problems(expected, 3, 10_001, 500) == [
        "3 rows, reconciliation sold 2",
        "face 100.01, reconciliation 100.00",
    ]
