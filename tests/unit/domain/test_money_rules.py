"""DOMAIN.md's money rules, one named test (or a few) per numbered rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from debtsale.agreement import CutoffPolicy, PutbackReason, PutbackTerms, RefundMethod
from debtsale.journal import sale_entry
from debtsale.ledger import Ledger
from debtsale.lifecycle import ReceivableState
from debtsale.money import Money
from debtsale.portfolio import Portfolio, Treatment
from debtsale.putback import PutbackRequest, PutbackStatus, refund_for
from debtsale.remittance import amounts_due, collections_on, paid_before_sale
from debtsale.reports import ReconciliationReport
from testkit.builders import LedgerBuilder, sample_agreement, usd

CUTOFF = date(2025, 6, 30)
CLOSING = date(2025, 7, 15)
OLD = date(2025, 1, 2)  # due 2025-02-01: 149 days past due at cut-off → rate 0.15


def _book(*faces: str) -> LedgerBuilder:
    book = LedgerBuilder()
    for n, face in enumerate(faces, start=1):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", face, invoice_date=OLD)
    return book


def _cut(ledger: Ledger, **agreement: object) -> Portfolio:
    return Portfolio.cut("P1", sample_agreement(**agreement), ledger, CUTOFF)


# --------------------------------------------------------------------------- rule 1
def test_rule_1_price_is_rounded_half_even_per_receivable() -> None:
    # 0.15 × 100.10 = 15.015 → 15.02 (half-even rounds to the even cent: 2)
    # 0.15 × 100.30 = 15.045 → 15.04 (half-even: 4 is even)
    book = _book("100.10", "100.30")
    portfolio = _cut(book.ledger)
    assert portfolio.line("I1").price_at_cutoff == usd("15.02")
    assert portfolio.line("I2").price_at_cutoff == usd("15.04")


def test_rule_1_portfolio_price_is_the_sum_of_receivable_prices_not_rate_times_total() -> None:
    book = _book("100.10", "100.10", "100.10")  # 3 × 15.015 → 3 × 15.02 = 45.06
    portfolio = _cut(book.ledger)
    portfolio.close(sample_agreement(), book.ledger, CLOSING)
    assert portfolio.total_price == usd("45.06")
    assert portfolio.total_face.times(Decimal("0.15")) == usd("45.04")  # the wrong way


# --------------------------------------------------------------------------- rule 2
def test_rule_2_face_at_cutoff_counts_only_events_effective_by_the_cutoff() -> None:
    book = _book("1000.00")
    book.pay("P-before", "C1", date(2025, 6, 30), {"I1": "100.00"})
    book.pay("P-after", "C1", date(2025, 7, 1), {"I1": "200.00"})
    portfolio = _cut(book.ledger)
    assert portfolio.line("I1").face_at_cutoff == usd("900.00")


def test_rule_2_arrival_order_and_duplicates_do_not_change_face_at_cutoff() -> None:
    book = _book("1000.00")
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "100.00"})
    book.pay("P1", "C1", date(2025, 3, 1), {"I1": "150.00"})  # the payment was edited
    book.credit("CM1", "C1", date(2025, 4, 1), {"I1": "50.00"})
    book.pay("P2", "C1", date(2025, 5, 1), {"I1": "25.00"})
    book.void_payment("P2")
    replay = Ledger("t1")
    for change in [*reversed(book.changes), *book.changes]:
        replay.apply(change)
    face = replay.receivable("I1").face_on(CUTOFF)  # type: ignore[union-attr]
    assert face == book.ledger.receivable("I1").face_on(CUTOFF) == usd("800.00")  # type: ignore[union-attr]


# --------------------------------------------------------------------------- rule 3
def _with_payment_between(policy: CutoffPolicy, paid: str) -> tuple[Portfolio, LedgerBuilder]:
    book = _book("1000.00")
    portfolio = _cut(book.ledger, cutoff_policy=policy)
    book.pay("P9", "C1", date(2025, 7, 10), {"I1": paid})
    portfolio.close(sample_agreement(cutoff_policy=policy), book.ledger, CLOSING)
    return portfolio, book


def test_rule_3_reduce_face_lowers_face_and_price_by_the_payment() -> None:
    portfolio, _ = _with_payment_between(CutoffPolicy.REDUCE_FACE, "400.00")
    line = portfolio.line("I1")
    assert line.final_face == usd("600.00")
    assert line.price == usd("90.00")
    assert line.owed_to_buyer_at_close == usd("0.00")


def test_rule_3_reduce_face_removes_a_fully_paid_receivable_before_closing() -> None:
    portfolio, _ = _with_payment_between(CutoffPolicy.REDUCE_FACE, "1000.00")
    line = portfolio.line("I1")
    assert line.state is ReceivableState.REMOVED
    assert line.reason == "paid_in_full"
    assert portfolio.total_price == usd("0.00")


def test_rule_3_remove_if_paid_keeps_face_and_owes_partial_payments_to_the_buyer() -> None:
    portfolio, book = _with_payment_between(CutoffPolicy.REMOVE_IF_PAID, "400.00")
    line = portfolio.line("I1")
    assert line.final_face == usd("1000.00")
    assert line.price == usd("150.00")
    assert line.owed_to_buyer_at_close == usd("400.00")
    due = amounts_due(portfolio, book.ledger, sample_agreement().remittance)
    assert [(d.source, d.amount) for d in due] == [("payment:P9", usd("400.00"))]


def test_rule_3_remove_if_paid_removes_only_fully_paid_receivables() -> None:
    portfolio, _ = _with_payment_between(CutoffPolicy.REMOVE_IF_PAID, "1000.00")
    assert portfolio.line("I1").state is ReceivableState.REMOVED


def test_rule_3_remit_keeps_face_and_owes_the_whole_payment() -> None:
    portfolio, _ = _with_payment_between(CutoffPolicy.REMIT, "1000.00")
    line = portfolio.line("I1")
    assert line.state is ReceivableState.SOLD
    assert line.final_face == usd("1000.00")
    assert line.owed_to_buyer_at_close == usd("1000.00")
    assert [a.treatment for a in line.adjustments] == [Treatment.OWED_TO_BUYER]


def test_rule_3_reconciliation_lists_every_receivable_and_ties_out_to_the_cent() -> None:
    book = _book("1000.00", "333.33", "250.00")
    portfolio = _cut(book.ledger)
    book.pay("P9", "C1", date(2025, 7, 10), {"I1": "400.00"})
    book.pay("P8", "C3", date(2025, 7, 11), {"I3": "250.00"})
    portfolio.close(sample_agreement(), book.ledger, CLOSING)
    report = ReconciliationReport.of(portfolio)
    assert [line.receivable_id for line in report.lines] == ["I1", "I2", "I3"]
    for line in report.lines:
        assert line.face_at_cutoff + line.adjustments == line.final_face
    assert report.face_at_cutoff == usd("1583.33")
    assert report.adjustments == usd("-650.00")
    assert report.final_face == usd("933.33") == portfolio.total_face
    assert report.price == usd("140.00") == portfolio.total_price  # 90.00 + 50.00 (49.9995)
    assert (report.sold, report.removed) == (2, 1)


def test_rule_3_a_payment_dated_before_cutoff_but_recorded_after_the_cut_restates_face() -> None:
    book = _book("1000.00")
    portfolio = _cut(book.ledger)
    book.pay("P-late", "C1", date(2025, 6, 20), {"I1": "100.00"}, recorded_on=date(2025, 7, 2))
    portfolio.close(sample_agreement(), book.ledger, CLOSING)
    line = portfolio.line("I1")
    assert [a.treatment for a in line.adjustments] == [Treatment.RESTATED]
    assert line.final_face == usd("900.00")


# --------------------------------------------------------------------------- rule 4
def test_rule_4_a_payment_on_a_sold_receivable_is_due_to_the_buyer_in_business_days() -> None:
    book = _book("1000.00")
    portfolio = _cut(book.ledger)
    portfolio.close(sample_agreement(), book.ledger, CLOSING)
    book.pay("P-after", "C1", date(2025, 8, 1), {"I1": "300.00"})  # a Friday
    due = amounts_due(portfolio, book.ledger, sample_agreement().remittance)
    assert len(due) == 1
    assert due[0].amount == usd("300.00")
    assert due[0].received_on == date(2025, 8, 1)
    assert due[0].due_on == date(2025, 8, 15)  # 10 business days later
    # …and AR is not reduced again: the sale's face stays what was sold.
    assert portfolio.total_face == usd("1000.00")


def test_rule_4_a_payment_dated_by_cutoff_recorded_after_close_is_a_putback_candidate() -> None:
    book = _book("1000.00")
    portfolio = _cut(book.ledger)
    portfolio.close(sample_agreement(), book.ledger, CLOSING)
    book.pay("P-old", "C1", date(2025, 6, 1), {"I1": "1000.00"}, recorded_on=date(2025, 8, 1))
    candidates = paid_before_sale(portfolio, book.ledger)
    assert [(c.receivable_id, c.amount) for c in candidates] == [("I1", usd("1000.00"))]
    assert amounts_due(portfolio, book.ledger, sample_agreement().remittance) == []


# --------------------------------------------------------------------------- rule 5
@pytest.fixture
def sold() -> tuple[Portfolio, LedgerBuilder]:
    book = _book(*["1000.00"] * 20)
    portfolio = _cut(book.ledger)
    portfolio.close(sample_agreement(), book.ledger, CLOSING)
    return portfolio, book


def _request(receivable: str = "I1", **changes: object) -> PutbackRequest:
    base: dict[str, object] = {
        "request_id": f"R-{receivable}",
        "receivable_id": receivable,
        "reason": PutbackReason.BANKRUPTCY,
        "fact_date": date(2025, 7, 1),
        "requested_on": date(2025, 8, 1),
        "evidence": {"case_number": "24-10001"},
    }
    return PutbackRequest(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"requested_on": date(2025, 11, 13)}, "putback.window"),  # closing + 121 days
        ({"reason": PutbackReason.NOT_DEBTOR}, "putback.reason_allowed"),
        ({"fact_date": CLOSING}, "putback.fact_predates_closing"),
        ({"evidence": {}}, "putback.evidence"),
        ({"receivable_id": "I-unknown"}, "putback.receivable_sold"),
    ],
)
def test_rule_5_an_invalid_request_is_rejected_naming_the_failed_rule(
    sold: tuple[Portfolio, LedgerBuilder], changes: dict[str, object], rule: str
) -> None:
    portfolio, _ = sold
    decision = portfolio.request_putback(_request(**changes), sample_agreement())
    assert decision.status is PutbackStatus.REJECTED
    assert decision.rule == rule


def test_rule_5_the_last_day_of_the_window_is_inside(sold: tuple[Portfolio, LedgerBuilder]) -> None:
    portfolio, _ = sold
    decision = portfolio.request_putback(
        _request(requested_on=date(2025, 11, 12)), sample_agreement()
    )
    assert decision.status is PutbackStatus.PENDING


def test_rule_5_a_receivable_already_put_back_cannot_be_put_back_again(
    sold: tuple[Portfolio, LedgerBuilder],
) -> None:
    portfolio, _ = sold
    agreement = sample_agreement()
    portfolio.request_putback(_request(), agreement)
    portfolio.decide_putback("R-I1", accept=True, decided_on=date(2025, 8, 5), agreement=agreement)
    again = portfolio.request_putback(_request(request_id="R-again"), agreement)
    assert again.rule == "putback.not_already_put_back"


def test_rule_5_the_cap_limits_refunds_to_a_share_of_the_portfolio_price(
    sold: tuple[Portfolio, LedgerBuilder],
) -> None:
    portfolio, _ = sold  # 20 × 150.00 = 3,000.00; cap 10 % = 300.00 → two refunds of 150.00
    agreement = sample_agreement()
    for receivable in ("I1", "I10"):
        portfolio.request_putback(_request(receivable), agreement)
        portfolio.decide_putback(
            f"R-{receivable}", accept=True, decided_on=date(2025, 8, 5), agreement=agreement
        )
    third = portfolio.request_putback(_request("I11"), agreement)
    assert third.rule == "putback.cap"
    assert portfolio.refunds == usd("300.00")


# --------------------------------------------------------------------------- rule 6
def test_rule_6_refund_is_the_price_by_default(sold: tuple[Portfolio, LedgerBuilder]) -> None:
    portfolio, _ = sold
    agreement = sample_agreement()
    portfolio.request_putback(_request(), agreement)
    decision = portfolio.decide_putback(
        "R-I1", accept=True, decided_on=date(2025, 8, 5), agreement=agreement
    )
    assert decision.refund == usd("150.00")
    assert portfolio.line("I1").state is ReceivableState.PUT_BACK


def test_rule_6_price_less_collections_counts_what_the_buyer_already_got(
    sold: tuple[Portfolio, LedgerBuilder],
) -> None:
    portfolio, book = sold
    terms = PutbackTerms(
        **{
            **sample_agreement().putback.model_dump(),
            "refund_method": RefundMethod.PRICE_LESS_COLLECTIONS,
        }
    )
    agreement = sample_agreement(putback=terms)
    book.pay("P-after", "C1", date(2025, 7, 20), {"I1": "40.00"})
    due = amounts_due(portfolio, book.ledger, agreement.remittance)
    collected = collections_on(due, "I1", "USD")
    portfolio.request_putback(_request(buyer_collections=usd("10.00")), agreement, collected)
    decision = portfolio.decide_putback(
        "R-I1", accept=True, decided_on=date(2025, 8, 5), agreement=agreement, collections=collected
    )
    assert decision.refund == usd("100.00")  # 150.00 − (40.00 + 10.00)


@pytest.mark.parametrize("collected", ["0.00", "150.00", "151.00", "10000.00"])
def test_rule_6_refund_is_never_negative_nor_above_the_price(collected: str) -> None:
    price = usd("150.00")
    for method in RefundMethod:
        refund = refund_for(method, price, usd(collected))
        assert usd("0.00") <= refund <= price


def test_rule_6_a_replacement_must_have_at_least_the_returned_face(
    sold: tuple[Portfolio, LedgerBuilder],
) -> None:
    from debtsale.errors import RuleViolation

    portfolio, book = sold
    terms = PutbackTerms(**{**sample_agreement().putback.model_dump(), "replacement_allowed": True})
    agreement = sample_agreement(putback=terms)
    book.customer("C99")
    book.invoice("I-small", "C99", "999.99", invoice_date=OLD)
    book.invoice("I-big", "C99", "1000.00", invoice_date=OLD)
    portfolio.request_putback(_request(replacement_id="I-small"), agreement)
    small = book.ledger.receivable("I-small")
    assert small is not None
    with pytest.raises(RuleViolation, match="replacement_face"):
        portfolio.decide_putback(
            "R-I1",
            accept=True,
            decided_on=date(2025, 8, 5),
            agreement=agreement,
            replacement=(small, "C99"),
        )
    big = book.ledger.receivable("I-big")
    assert big is not None
    decision = portfolio.decide_putback(
        "R-I1",
        accept=True,
        decided_on=date(2025, 8, 5),
        agreement=agreement,
        replacement=(big, "C99"),
    )
    assert decision.replacement_id == "I-big"
    assert decision.refund == usd("0.00")
    assert portfolio.line("I1").state is ReceivableState.REPLACED
    assert portfolio.line("I-big").state is ReceivableState.SOLD
    assert portfolio.total_price == usd("3000.00")  # the sale's price does not change


# --------------------------------------------------------------------------- rule 7
def test_rule_7_net_proceeds_are_price_less_refunds(sold: tuple[Portfolio, LedgerBuilder]) -> None:
    portfolio, _ = sold
    agreement = sample_agreement()
    portfolio.request_putback(_request(), agreement)
    portfolio.decide_putback("R-I1", accept=True, decided_on=date(2025, 8, 5), agreement=agreement)
    assert portfolio.net_proceeds == usd("2850.00")


def test_rule_7_loss_on_sale_is_carrying_amount_less_price_booked_at_close() -> None:
    book = _book("1000.00", "1000.00")
    portfolio = _cut(book.ledger)
    portfolio.close(sample_agreement(), book.ledger, CLOSING, allowances={"I1": usd("200.00")})
    # carrying = 2,000.00 − 200.00 allowance = 1,800.00; price 300.00 → loss 1,500.00
    assert portfolio.loss_on_sale == usd("1500.00")
    assert portfolio.events[-1].loss_on_sale == usd("1500.00")  # type: ignore[attr-defined]


def test_worked_example_100000_face_sold_at_15_percent() -> None:
    """DOMAIN.md: a 100,000.00 portfolio sold for 15 % books 15,000.00 cash, 85,000.00 loss."""
    book = _book(*["2500.00"] * 40)
    portfolio = _cut(book.ledger)
    portfolio.close(sample_agreement(), book.ledger, CLOSING)
    assert portfolio.total_face == usd("100000.00")
    assert portfolio.total_price == usd("15000.00")
    assert portfolio.loss_on_sale == usd("85000.00")
    entry = sale_entry(portfolio)
    debits = {line.account.value: line.debit for line in entry.lines if not line.debit.is_zero}
    assert debits == {"cash": usd("15000.00"), "loss_on_sale_of_receivables": usd("85000.00")}
    credits = [line for line in entry.lines if not line.credit.is_zero]
    assert len(credits) == 40  # one receivable line per customer
    assert sum((line.credit for line in credits), Money.zero("USD")) == usd("100000.00")
