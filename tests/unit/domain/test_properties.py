"""Properties over random histories: order and duplicates never matter; money ties out."""

from __future__ import annotations

import random
from datetime import date, timedelta
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
from debtsale.testing import LedgerBuilder, sample_agreement

START = date(2024, 1, 1)
CUTOFF = date(2025, 6, 30)
CLOSING = date(2025, 7, 15)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("4000"), places=2)
days = st.integers(min_value=0, max_value=640).map(lambda n: START + timedelta(days=n))
# Payments cluster around the sale so the interesting cases (between cut-off and closing,
# after closing, recorded late) come up often, not once in a thousand histories.
around_sale = st.integers(min_value=-10, max_value=40).map(lambda n: CUTOFF + timedelta(days=n))
payment_days = st.one_of(days, around_sale, around_sale, around_sale)
# Payments are mostly partial, as in real collections, with the odd one settling in full.
payment_amounts = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("600"), places=2),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("600"), places=2),
    amounts,
)
OPERATIONS = (
    "pay",
    "pay",
    "repay",
    "credit",
    "void_payment",
    "delete_payment",
    "void_invoice",
    "reinvoice",
    "merge",
)


@st.composite
def histories(draw: st.DrawFn) -> LedgerBuilder:
    """A firm's ledger after a random but plausible sequence of platform changes."""
    book = LedgerBuilder()
    customers = [f"C{n}" for n in range(draw(st.integers(1, 3)))]
    for customer in customers:
        book.customer(customer, region=draw(st.sampled_from(["IL", "CA", "TX", "NY"])))
    invoices = [f"I{n}" for n in range(draw(st.integers(1, 6)))]
    owner = {}
    for invoice in invoices:
        owner[invoice] = draw(st.sampled_from(customers))
        book.invoice(invoice, owner[invoice], str(draw(amounts)), invoice_date=draw(days))
    payments: list[str] = []
    for step, operation in enumerate(
        draw(st.lists(st.sampled_from(OPERATIONS), min_size=2, max_size=20))
    ):
        invoice = draw(st.sampled_from(invoices))
        split = {
            i: str(draw(payment_amounts))
            for i in draw(st.lists(st.sampled_from(invoices), min_size=1, max_size=3, unique=True))
        }
        paid_on = draw(payment_days)
        recorded = paid_on + timedelta(days=draw(st.sampled_from([0, 0, 3, 40])))
        if operation == "pay" or (operation == "repay" and not payments):
            payments.append(f"P{step}")
            book.pay(payments[-1], owner[invoice], paid_on, split, recorded_on=recorded)
        elif operation == "repay":
            book.pay(
                draw(st.sampled_from(payments)),
                owner[invoice],
                paid_on,
                split,
                recorded_on=recorded,
            )
        elif operation == "credit":
            book.credit(f"CM{step}", owner[invoice], paid_on, split)
        elif operation in ("void_payment", "delete_payment") and payments:
            getattr(book, operation)(draw(st.sampled_from(payments)))
        elif operation == "void_invoice":
            book.void_invoice(invoice)
        elif operation == "reinvoice":
            book.invoice(invoice, owner[invoice], str(draw(amounts)), invoice_date=draw(days))
        elif operation == "merge" and len(customers) > 1:
            merged, into = draw(st.permutations(customers))[:2]
            book.merge(merged, into)
    return book


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
