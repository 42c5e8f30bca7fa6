"""Journal entries balance and name customers; reports serialise and tie out."""

from __future__ import annotations

import json
from datetime import date

import pytest

from debtsale.agreement import PutbackReason, PutbackTerms
from debtsale.errors import DomainError
from debtsale.journal import (
    Account,
    JournalEntry,
    JournalLine,
    payment_after_sale_entry,
    putback_refund_entry,
    remittance_entry,
    sale_entry,
)
from debtsale.portfolio import Portfolio, Remittance
from debtsale.putback import PutbackRequest
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport, PutbackLedger, ReconciliationReport, as_data
from testkit.builders import LedgerBuilder, sample_agreement, usd


@pytest.fixture
def closed() -> tuple[Portfolio, LedgerBuilder]:
    book = LedgerBuilder()
    for customer, amounts in {"C1": ["1000.00", "500.00"], "C2": ["2000.00"]}.items():
        book.customer(customer)
        for n, amount in enumerate(amounts):
            book.invoice(f"{customer}-{n}", customer, amount, invoice_date=date(2025, 1, 2))
    portfolio = Portfolio.cut("P1", sample_agreement(), book.ledger, date(2025, 6, 30))
    portfolio.close(sample_agreement(), book.ledger, date(2025, 7, 15))
    return portfolio, book


def test_sale_entry_credits_receivables_per_customer(
    closed: tuple[Portfolio, LedgerBuilder],
) -> None:
    portfolio, _ = closed
    entry = sale_entry(portfolio)
    ar = {
        line.customer_id: line.credit
        for line in entry.lines
        if line.account is Account.ACCOUNTS_RECEIVABLE
    }
    assert ar == {"C1": usd("1500.00"), "C2": usd("2000.00")}
    assert entry.amount == usd("3500.00")
    assert entry.entry_id == "sale:P1"


def test_each_step_has_a_balanced_entry(closed: tuple[Portfolio, LedgerBuilder]) -> None:
    portfolio, book = closed
    uncapped = PutbackTerms(**{**sample_agreement().putback.model_dump(), "cap_percent": None})
    agreement = sample_agreement(putback=uncapped)
    book.pay("PX", "C2", date(2025, 8, 1), {"C2-0": "100.00"})
    due = amounts_due(portfolio, book.ledger, agreement.remittance)
    portfolio.request_putback(
        PutbackRequest("R1", "C1-1", PutbackReason.DISPUTE, date(2025, 7, 1), date(2025, 8, 2)),
        agreement,
    )
    decision = portfolio.decide_putback(
        "R1", accept=True, decided_on=date(2025, 8, 3), agreement=agreement
    )
    remittance = Remittance("REM1", date(2025, 8, 20), usd("100.00"))
    portfolio.record_remittance(remittance, usd("100.00"))
    entries = [
        sale_entry(portfolio),
        payment_after_sale_entry(portfolio, due[0]),
        putback_refund_entry(portfolio, decision, "C1"),
        putback_refund_entry(portfolio, decision, "C1", reinstate=True),
        remittance_entry(portfolio, remittance),
    ]
    for entry in entries:
        debits = sum(line.debit.amount for line in entry.lines)
        credits = sum(line.credit.amount for line in entry.lines)
        assert debits == credits
    assert entries[3].lines[0].account is Account.ACCOUNTS_RECEIVABLE  # reinstated at refund
    assert entries[3].lines[0].debit == usd("75.00")


def test_an_unbalanced_entry_cannot_exist() -> None:
    with pytest.raises(DomainError, match=r"journal\.balanced"):
        JournalEntry(
            "x", date(2025, 1, 1), "bad", (JournalLine(Account.CASH, usd("1.00"), usd("0.00")),)
        )


def test_a_receivable_line_must_name_the_customer() -> None:
    with pytest.raises(DomainError, match=r"journal\.ar_customer"):
        JournalEntry(
            "x",
            date(2025, 1, 1),
            "bad",
            (
                JournalLine(Account.CASH, usd("1.00"), usd("0.00")),
                JournalLine(Account.ACCOUNTS_RECEIVABLE, usd("0.00"), usd("1.00")),
            ),
        )


def test_a_remittance_above_what_is_outstanding_is_refused(
    closed: tuple[Portfolio, LedgerBuilder],
) -> None:
    portfolio, _ = closed
    with pytest.raises(DomainError, match=r"remittance\.exceeds_outstanding"):
        portfolio.record_remittance(Remittance("R", date(2025, 8, 1), usd("1.00")), usd("0.00"))


def test_reports_are_plain_json_data(closed: tuple[Portfolio, LedgerBuilder]) -> None:
    portfolio, book = closed
    book.pay("PX", "C2", date(2025, 8, 1), {"C2-0": "100.00"})
    due = amounts_due(portfolio, book.ledger, sample_agreement().remittance)
    for report in (
        ReconciliationReport.of(portfolio),
        PutbackLedger.of(portfolio),
        AmountsDueReport.of(portfolio, due, date(2025, 9, 1)),
    ):
        data = as_data(report)
        assert json.loads(json.dumps(data)) == data
    reconciliation = as_data(ReconciliationReport.of(portfolio))
    assert reconciliation["price"] == {"amount": "525.00", "currency": "USD"}
    assert len(reconciliation["lines"]) == 3
    statement = as_data(AmountsDueReport.of(portfolio, due, date(2025, 9, 1)))
    assert statement["due_now"] == {"amount": "100.00", "currency": "USD"}


def test_reconciliation_csv_has_a_header_lines_and_totals(
    closed: tuple[Portfolio, LedgerBuilder],
) -> None:
    rows = list(ReconciliationReport.of(closed[0]).csv_rows())
    assert rows[0][0] == "receivable_id"
    assert [row[0] for row in rows[1:-1]] == ["C1-0", "C1-1", "C2-0"]
    assert rows[-1][0] == "TOTAL"
    assert rows[-1][8] == "525.00"


def test_the_sale_entry_says_which_invoices_each_customer_credit_closes(
    closed: tuple[Portfolio, LedgerBuilder],
) -> None:
    event = sale_entry(closed[0]).as_event("P1")
    assert event.receivables == (
        ("C1", "C1-0", "0.00", "1000.00"),
        ("C1", "C1-1", "0.00", "500.00"),
        ("C2", "C2-0", "0.00", "2000.00"),
    )


def test_a_payment_on_a_sold_invoice_is_reclassified_not_booked_as_cash_again(
    closed: tuple[Portfolio, LedgerBuilder],
) -> None:
    portfolio, book = closed
    book.pay("PX", "C2", date(2025, 8, 1), {"C2-0": "100.00"})
    [due] = amounts_due(portfolio, book.ledger, sample_agreement().remittance)
    entry = payment_after_sale_entry(portfolio, due)
    assert [(line.account, line.debit, line.credit, line.customer_id) for line in entry.lines] == [
        (Account.ACCOUNTS_RECEIVABLE, usd("100.00"), usd("0.00"), "C2"),
        (Account.DUE_TO_BUYER, usd("0.00"), usd("100.00"), None),
    ]
    assert all(line.account is not Account.CASH for line in entry.lines)
    assert entry.as_event("P1").receivables == (("C2", "C2-0", "100.00", "0.00"),)


def test_a_refund_reinstated_names_the_invoice_it_reopens(
    closed: tuple[Portfolio, LedgerBuilder],
) -> None:
    portfolio, _ = closed
    uncapped = PutbackTerms(**{**sample_agreement().putback.model_dump(), "cap_percent": None})
    agreement = sample_agreement(putback=uncapped)
    portfolio.request_putback(
        PutbackRequest("R1", "C1-1", PutbackReason.DISPUTE, date(2025, 7, 1), date(2025, 8, 2)),
        agreement,
    )
    decision = portfolio.decide_putback(
        "R1", accept=True, decided_on=date(2025, 8, 3), agreement=agreement, reinstate=True
    )
    assert decision.reinstated
    entry = putback_refund_entry(portfolio, decision, "C1")  # the decision says reinstated
    assert entry.as_event("P1").receivables == (("C1", "C1-1", "75.00", "0.00"),)
    assert putback_refund_entry(portfolio, decision, "C1", reinstate=False).lines[0].account is (
        Account.LOSS_ON_SALE
    )


def test_a_receivable_line_split_must_add_up_to_it() -> None:
    with pytest.raises(DomainError, match=r"journal\.receivables"):
        JournalEntry(
            "x",
            date(2025, 1, 1),
            "bad",
            (
                JournalLine(Account.CASH, usd("1.00"), usd("0.00")),
                JournalLine(
                    Account.ACCOUNTS_RECEIVABLE,
                    usd("0.00"),
                    usd("1.00"),
                    "C1",
                    (("I1", usd("0.60")),),
                ),
            ),
        )
