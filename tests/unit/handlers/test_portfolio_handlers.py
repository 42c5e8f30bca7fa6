"""Cut and close as commands on fakes: once per command id, events with the state."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from debtsale.commands import ClosePortfolio, CutPortfolio
from debtsale.errors import RuleViolation
from debtsale.lifecycle import ReceivableState
from debtsale.salefile import minor_units
from handlers.ledger import Outcome, apply_ledger_change
from handlers.portfolio import close_portfolio, cut_portfolio
from testkit.builders import LedgerBuilder, sample_agreement
from testkit.fakes import FakeAgreementStore, FakeUnitOfWork

CUT = CutPortfolio(
    command_id="cmd-cut",
    tenant="t1",
    portfolio_id="P1",
    agreement_id="acme-spot-2026",
    cutoff=date(2025, 6, 30),
)
CLOSE = ClosePortfolio(command_id="cmd-close", portfolio_id="P1", closing=date(2025, 7, 15))


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.agreements = FakeAgreementStore(sample_agreement())
    book = LedgerBuilder(tenant="t1")
    for n in range(3):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    for change in book.changes:
        apply_ledger_change(uow, "t1", change)
    return uow


def test_cut_then_close_store_the_portfolio_and_its_events(uow: FakeUnitOfWork) -> None:
    assert cut_portfolio(uow, CUT) is Outcome.APPLIED
    assert close_portfolio(uow, CLOSE) is Outcome.APPLIED
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    assert {line.state for line in portfolio.lines.values()} == {ReceivableState.SOLD}
    assert [type(e).__name__ for e in uow.events.events] == [
        "PortfolioCut",
        "PortfolioClosed",
        "JournalEntryRequested",
    ]


def test_the_close_records_the_sale_file_as_sold(uow: FakeUnitOfWork) -> None:
    cut_portfolio(uow, CUT)
    close_portfolio(uow, CLOSE)
    portfolio = uow.portfolios.get("P1")
    summary = uow.sale_files.summary("P1")
    assert portfolio is not None
    assert summary is not None
    assert summary.header == tuple(sample_agreement().file.columns)
    assert (summary.cutoff, summary.closing) == (date(2025, 6, 30), date(2025, 7, 15))
    assert summary.totals.records == 3
    assert summary.totals.face == portfolio.total_face
    rows = uow.sale_files.rows("P1")
    assert sum(r.face_minor for r in rows) == minor_units(portfolio.total_face)
    assert sum(r.price_minor for r in rows) == minor_units(portfolio.total_price)
    parsed = list(csv.reader(io.StringIO(b"".join(r.line for r in rows).decode())))
    assert [row[summary.header.index("receivable_id")] for row in parsed] == ["I0", "I1", "I2"]


def test_a_resent_command_is_a_no_op(uow: FakeUnitOfWork) -> None:
    cut_portfolio(uow, CUT)
    assert cut_portfolio(uow, CUT) is Outcome.DUPLICATE
    assert len(uow.events.events) == 1


def test_a_sold_receivable_is_never_cut_again(uow: FakeUnitOfWork) -> None:
    cut_portfolio(uow, CUT)
    close_portfolio(uow, CLOSE)
    again = CutPortfolio(
        command_id="cmd-cut-2",
        tenant="t1",
        portfolio_id="P2",
        agreement_id="acme-spot-2026",
        cutoff=date(2025, 8, 31),
    )
    with pytest.raises(RuleViolation, match=r"portfolio\.empty"):
        cut_portfolio(uow, again)
    assert uow.portfolios.get("P2") is None  # a cut that gets nothing stores nothing
    assert ("commands", "cmd-cut-2") not in uow.inbox.seen  # and may be sent again later


def test_a_broken_rule_commits_nothing(uow: FakeUnitOfWork) -> None:
    cut_portfolio(uow, CUT)
    early = ClosePortfolio(command_id="cmd-early", portfolio_id="P1", closing=date(2025, 6, 1))
    with pytest.raises(RuleViolation, match=r"closing_after_cutoff"):
        close_portfolio(uow, early)
    assert ("commands", "cmd-early") not in uow.inbox.seen
    assert len(uow.events.events) == 1


def test_an_unknown_agreement_is_a_clear_error(uow: FakeUnitOfWork) -> None:
    unknown = CutPortfolio(
        command_id="c",
        tenant="t1",
        portfolio_id="P9",
        agreement_id="nope",
        cutoff=date(2025, 6, 30),
    )
    with pytest.raises(RuleViolation, match=r"no agreement nope"):
        cut_portfolio(uow, unknown)


def test_a_row_missing_a_required_field_stops_the_close_naming_row_and_field() -> None:
    from debtsale.changes import PostalAddress

    uow = FakeUnitOfWork()
    agreement = sample_agreement()
    layout = agreement.file.model_copy(update={"required": ("address_line1", "city")})
    uow.agreements = FakeAgreementStore(agreement.model_copy(update={"file": layout}))
    book = LedgerBuilder(tenant="t1")
    book.customer("C0")
    book.customer("C1", address=PostalAddress(("9 Pier Rd",), "", "IL", "62701"))  # no city
    for n in range(2):
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    for change in book.changes:
        apply_ledger_change(uow, "t1", change)
    cut_portfolio(uow, CUT)
    events_before = list(uow.events.events)
    with pytest.raises(RuleViolation, match=r"sale file row 2 \(receivable I1\): field city") as e:
        close_portfolio(uow, CLOSE)
    assert e.value.rule == "salefile.schema"
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    assert portfolio.live
    assert uow.sale_files.summary("P1") is None  # no file recorded, so nothing to deliver
    assert uow.events.events == events_before  # no PortfolioClosed: no delivery starts
    # completed in the books, the same command closes
    book.customer("C1")
    apply_ledger_change(uow, "t1", book.changes[-1])
    assert close_portfolio(uow, CLOSE) is Outcome.APPLIED


def test_a_cut_leaves_out_the_customers_it_names_and_its_preview_is_the_same(
    uow: FakeUnitOfWork,
) -> None:
    from dataclasses import replace

    from handlers.portfolio import select_for_cut

    scoped = replace(CUT, excluded_customers=("C1",))
    with uow:
        preview = select_for_cut(uow, scoped)
    assert cut_portfolio(uow, scoped) is Outcome.APPLIED
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    assert set(portfolio.lines) == set(preview.lines) == {"I0", "I2"}
    assert portfolio.total_price_at_cutoff == preview.total_price_at_cutoff
