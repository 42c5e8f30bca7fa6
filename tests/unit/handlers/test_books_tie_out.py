"""The books after a sale, on fakes: the platform's own bookings plus forwardflow's entries
tie out (AR of a sold customer 0 or the reinstated refund, cash the cash that moved, due to
buyer the statement, loss on sale the reconciliation's), under every cut-off policy."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debtsale.agreement import CutoffPolicy, PutbackReason
from debtsale.commands import (
    ClosePortfolio,
    CutPortfolio,
    DecidePutback,
    FlagReceivable,
    RecordRemittance,
    RequestPutback,
)
from debtsale.events import (
    JournalEntryRequested,
    PutbackCandidateFound,
    PutbackCandidateWithdrawn,
)
from debtsale.lifecycle import ExclusionReason
from debtsale.money import Money
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport, ReconciliationReport
from debtsale.settlement import putback_candidates
from handlers.ledger import apply_ledger_change
from handlers.registry import handle_command
from testkit.builders import Books, LedgerBuilder, books, sample_agreement, usd
from testkit.fakes import FakeAgreementStore, FakeUnitOfWork

CUTOFF, CLOSING = date(2025, 6, 30), date(2025, 7, 15)
SOLD = [f"C{n}" for n in range(10)]


def _firm(policy: CutoffPolicy) -> tuple[LedgerBuilder, FakeUnitOfWork]:
    book = LedgerBuilder(tenant="t1")
    for n in range(10):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    book.pay("P-early", "C0", date(2025, 3, 1), {"I0": "100.00"})  # in the face at cut-off
    uow = FakeUnitOfWork()
    uow.agreements = FakeAgreementStore(sample_agreement(cutoff_policy=policy))
    for change in book.changes:
        apply_ledger_change(uow, "t1", change)
    return book, uow


def _apply(uow: FakeUnitOfWork, book: LedgerBuilder) -> None:
    apply_ledger_change(uow, "t1", book.changes[-1])


def _entries(uow: FakeUnitOfWork) -> list[JournalEntryRequested]:
    return [e for e in uow.events.events if isinstance(e, JournalEntryRequested)]


def _books(uow: FakeUnitOfWork) -> Books:
    return books(uow.ledger.load("t1"), _entries(uow))


def _sale(policy: CutoffPolicy) -> tuple[LedgerBuilder, FakeUnitOfWork, dict[str, Money]]:
    """A sale with every kind of payment around it; returns the cash that really moved."""
    book, uow = _firm(policy)
    handle_command(
        uow,
        CutPortfolio(
            command_id="cut",
            tenant="t1",
            portfolio_id="P1",
            agreement_id="acme-spot-2026",
            cutoff=CUTOFF,
        ),
    )
    book.pay("P-between", "C1", date(2025, 7, 5), {"I1": "300.00"})  # cut-off < paid ≤ closing
    _apply(uow, book)
    book.pay("P-full", "C2", date(2025, 7, 6), {"I2": "1000.00"})  # paid in full before close
    _apply(uow, book)
    handle_command(uow, ClosePortfolio(command_id="close", portfolio_id="P1", closing=CLOSING))
    book.pay("P-after", "C4", date(2025, 8, 1), {"I4": "200.00"})
    _apply(uow, book)
    book.pay("P-voided", "C5", date(2025, 8, 2), {"I5": "150.00"})
    _apply(uow, book)
    book.void_payment("P-voided")
    _apply(uow, book)
    # dated before the cut-off, recorded only after the close: paid before sale
    book.pay("P-late", "C6", date(2025, 6, 20), {"I6": "400.00"}, recorded_on=date(2025, 8, 3))
    _apply(uow, book)
    for request_id, receivable, accept in (("R3", "I3", True), ("R7", "I7", False)):
        handle_command(
            uow,
            RequestPutback(
                command_id=f"req-{request_id}",
                portfolio_id="P1",
                request_id=request_id,
                receivable_id=receivable,
                reason=PutbackReason.DISPUTE,
                fact_date=date(2025, 7, 1),
                requested_on=date(2025, 8, 10),
            ),
        )
        handle_command(
            uow,
            DecidePutback(
                command_id=f"dec-{request_id}",
                portfolio_id="P1",
                request_id=request_id,
                accept=accept,
                decided_on=date(2025, 8, 12),
                reinstate=True,
            ),
        )
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    terms = sample_agreement(cutoff_policy=policy).remittance
    due = amounts_due(portfolio, uow.ledger.load("t1"), terms)
    outstanding = AmountsDueReport.of(portfolio, due, date(2025, 9, 1)).outstanding
    handle_command(
        uow,
        RecordRemittance(
            command_id="rem",
            portfolio_id="P1",
            remittance_id="M1",
            paid_on=date(2025, 9, 1),
            amount=usd("100.00"),
        ),
    )
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    refund = portfolio.refunds
    customers_paid = usd("100.00") + usd("300.00") + usd("1000.00") + usd("200.00") + usd("400")
    cash = customers_paid + portfolio.total_price - refund - usd("100.00")
    return book, uow, {"cash": cash, "refund": refund, "outstanding": outstanding}


@pytest.mark.parametrize("policy", list(CutoffPolicy))
def test_the_books_tie_out_after_the_sale(policy: CutoffPolicy) -> None:
    _, uow, moved = _sale(policy)
    ledger = uow.ledger.load("t1")
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    gl = _books(uow)
    assert gl.balance("cash") == moved["cash"]  # never booked twice
    for customer in SOLD:
        expected = moved["refund"] if customer == "C3" else usd("0.00")  # reinstated at refund
        assert gl.customer(customer) == expected, customer
    statement = AmountsDueReport.of(
        portfolio,
        amounts_due(portfolio, ledger, sample_agreement(cutoff_policy=policy).remittance),
        date(2025, 9, 30),
    )
    assert -gl.balance("due_to_buyer") == statement.outstanding
    assert [w.source for w in statement.withdrawn] == ["payment:P-voided"]
    report = ReconciliationReport.of(portfolio, ledger)
    assert report.paid_before_sale == usd("400.00")
    assert report.loss_on_sale_to_date == gl.balance("loss_on_sale_of_receivables")
    assert report.refunds_reinstated == report.refunds == moved["refund"]
    assert report.net_proceeds == portfolio.total_price - moved["refund"]
    owed_at_close = {  # the partial payment I1, and the full one I2 unless it removed I2
        CutoffPolicy.REDUCE_FACE: usd("0.00"),
        CutoffPolicy.REMOVE_IF_PAID: usd("300.00"),
        CutoffPolicy.REMIT: usd("1300.00"),
    }[policy]
    assert statement.due == usd("200.00") + owed_at_close
    assert sum(gl.accounts.values(), usd("0.00")) == usd("0.00")  # debits = credits


def test_a_paid_before_sale_payment_is_a_candidate_until_it_is_voided() -> None:
    book, uow, _ = _sale(CutoffPolicy.REDUCE_FACE)
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    found = [e for e in uow.events.events if isinstance(e, PutbackCandidateFound)]
    assert [(f.receivable_id, f.reason, f.amount, f.fact_date) for f in found] == [
        ("I6", "paid_before_sale", usd("400.00"), date(2025, 6, 20))
    ]
    assert [c.receivable_id for c in putback_candidates(portfolio, uow.ledger.load("t1"))] == ["I6"]
    entry = _entries(uow)[-2]  # the remittance is last
    assert entry.entry_id == "pbs:P1:I6:payment:P-late:400.00"
    assert entry.receivables == (("C6", "I6", "400.00", "0.00"),)
    book.void_payment("P-late")
    _apply(uow, book)
    withdrawn = [e for e in uow.events.events if isinstance(e, PutbackCandidateWithdrawn)]
    assert [(w.receivable_id, w.edition) for w in withdrawn] == [("I6", 0)]
    assert _entries(uow)[-1].entry_id == "unpbs:P1:I6:payment:P-late:400.00:0"
    assert _books(uow).customer("C6") == usd("0.00")
    assert putback_candidates(portfolio, uow.ledger.load("t1")) == []


def test_a_flag_found_after_the_close_is_a_candidate_when_its_fact_predates_it() -> None:
    _, uow, _ = _sale(CutoffPolicy.REDUCE_FACE)
    for receivable, since in (("I8", date(2025, 7, 10)), ("I9", date(2025, 8, 20))):
        handle_command(
            uow,
            FlagReceivable(
                command_id=f"flag-{receivable}",
                tenant="t1",
                receivable_id=receivable,
                reason=ExclusionReason.BANKRUPTCY,
                since=since,
            ),
        )
    found = [e for e in uow.events.events if isinstance(e, PutbackCandidateFound)]
    assert [(f.receivable_id, f.reason, f.source) for f in found][-1] == (
        "I8",
        "bankruptcy",
        "flag:bankruptcy",
    )
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    flags = {"I8": {ExclusionReason.BANKRUPTCY: date(2025, 7, 10)}}
    reasons = [c.reason for c in putback_candidates(portfolio, uow.ledger.load("t1"), flags)]
    assert reasons == ["paid_before_sale", "bankruptcy"]


def test_before_the_close_nothing_is_reported_sold() -> None:
    _, uow = _firm(CutoffPolicy.REDUCE_FACE)
    handle_command(
        uow,
        CutPortfolio(
            command_id="cut",
            tenant="t1",
            portfolio_id="P1",
            agreement_id="acme-spot-2026",
            cutoff=CUTOFF,
        ),
    )
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    report = ReconciliationReport.of(portfolio)
    assert (report.sold, report.in_portfolio) == (0, 10)
    assert report.loss_on_sale is None
    assert report.net_proceeds is None
    assert list(report.csv_rows())[-1][3] == "10 in portfolio (not closed) / 0 removed"
    line = report.lines[0]
    assert (line.days_past_due, line.age_bucket, line.rate) == (149, "91-180", usd("0.15").amount)


_AFTER = st.lists(
    st.tuples(
        st.sampled_from(["pay", "void", "late"]),
        st.sampled_from(["I4", "I5", "I6"]),
        st.sampled_from(["50.00", "80.00", "200.00"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(list(CutoffPolicy)), _AFTER, st.randoms(use_true_random=False))
def test_sold_customers_owe_nothing_whatever_happens_after_the_sale(
    policy: CutoffPolicy, after: list[tuple[str, str, str]], shuffle: random.Random
) -> None:
    book, uow = _firm(policy)
    handle_command(
        uow,
        CutPortfolio(
            command_id="cut",
            tenant="t1",
            portfolio_id="P1",
            agreement_id="acme-spot-2026",
            cutoff=CUTOFF,
        ),
    )
    book.pay("P-between", "C1", date(2025, 7, 5), {"I1": "300.00"})
    _apply(uow, book)
    handle_command(uow, ClosePortfolio(command_id="close", portfolio_id="P1", closing=CLOSING))
    changes = []
    for n, (kind, invoice, amount) in enumerate(after):
        customer = f"C{invoice[1:]}"
        payment = f"P-{invoice}-{n % 2}"
        if kind == "void":
            changes.append(book.void_payment(payment))
        else:
            paid_on = date(2025, 6, 1) if kind == "late" else date(2025, 8, 1)
            changes.append(
                book.pay(
                    payment, customer, paid_on, {invoice: amount}, recorded_on=date(2025, 8, 1)
                )
            )
    shuffle.shuffle(changes)
    for change in changes + changes[:2]:  # any order, some twice
        apply_ledger_change(uow, "t1", change)
    gl = _books(uow)
    assert all(gl.customer(c) == usd("0.00") for c in SOLD), gl.receivable
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    ledger = uow.ledger.load("t1")
    due = amounts_due(portfolio, ledger, sample_agreement(cutoff_policy=policy).remittance)
    assert -gl.balance("due_to_buyer") == sum((d.amount for d in due), usd("0.00"))
    assert ReconciliationReport.of(portfolio, ledger).loss_on_sale_to_date == gl.balance(
        "loss_on_sale_of_receivables"
    )
