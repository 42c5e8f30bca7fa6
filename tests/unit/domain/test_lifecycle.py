"""The lifecycle: allowed moves only, illegal ones named; one live portfolio per receivable."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest

from debtsale.errors import IllegalTransitionError, RuleViolation
from debtsale.lifecycle import ALLOWED, ExclusionReason, ReceivableState, check_transition
from debtsale.portfolio import Portfolio
from testkit.builders import LedgerBuilder, sample_agreement

S = ReceivableState


def test_the_main_path_is_allowed() -> None:
    path = [S.OPEN, S.ELIGIBLE, S.IN_PORTFOLIO, S.SOLD, S.PUTBACK_REQUESTED, S.PUT_BACK]
    for current, target in pairwise(path):
        check_transition(current, target, "I1")
    check_transition(S.PUTBACK_REQUESTED, S.PUTBACK_REJECTED, "I1")
    check_transition(S.PUTBACK_REQUESTED, S.REPLACED, "I1")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.OPEN, S.SOLD),
        (S.SOLD, S.REMOVED),
        (S.PUT_BACK, S.SOLD),
        (S.IN_PORTFOLIO, S.PAID),
        (S.REPLACED, S.OPEN),
        (S.SOLD, S.IN_PORTFOLIO),
    ],
)
def test_an_illegal_move_raises_naming_the_rule(current: S, target: S) -> None:
    with pytest.raises(IllegalTransitionError) as error:
        check_transition(current, target, "I1")
    assert error.value.rule == f"lifecycle.{current}"
    assert f"from {current} to {target}" in str(error.value)


def test_every_state_has_a_row_and_final_states_go_nowhere() -> None:
    assert set(ALLOWED) == set(ReceivableState)
    assert ALLOWED[S.PUT_BACK] == ALLOWED[S.REPLACED] == frozenset()


def _ledger() -> LedgerBuilder:
    book = LedgerBuilder()
    book.customer("C1")
    book.invoice("I1", "C1", "500.00", invoice_date=date(2025, 1, 2))
    book.invoice("I2", "C1", "700.00", invoice_date=date(2025, 1, 2))
    return book


def test_a_receivable_is_in_at_most_one_live_portfolio() -> None:
    book = _ledger()
    first = Portfolio.cut("P1", sample_agreement(), book.ledger, date(2025, 6, 30))
    taken = {rid for rid, line in first.lines.items() if line.state is S.IN_PORTFOLIO}
    second = Portfolio.cut("P2", sample_agreement(), book.ledger, date(2025, 6, 30), taken=taken)
    assert set(first.lines) == {"I1", "I2"}
    assert second.lines == {}


def test_removing_before_close_and_never_after() -> None:
    book = _ledger()
    portfolio = Portfolio.cut("P1", sample_agreement(), book.ledger, date(2025, 6, 30))
    portfolio.remove("I1", ExclusionReason.ACTIVE_DISPUTE)
    assert portfolio.line("I1").state is S.REMOVED
    assert portfolio.line("I1").reason == "active_dispute"
    with pytest.raises(IllegalTransitionError):
        portfolio.remove("I1", ExclusionReason.FRAUD)
    portfolio.close(sample_agreement(), book.ledger, date(2025, 7, 15))
    with pytest.raises(RuleViolation, match=r"portfolio\.closed"):
        portfolio.remove("I2", ExclusionReason.FRAUD)


def test_an_exclusion_flag_at_close_removes_the_receivable() -> None:
    book = _ledger()
    portfolio = Portfolio.cut("P1", sample_agreement(), book.ledger, date(2025, 6, 30))
    portfolio.close(
        sample_agreement(),
        book.ledger,
        date(2025, 7, 15),
        flags={"I2": {ExclusionReason.BANKRUPTCY}},
    )
    assert portfolio.line("I2").state is S.REMOVED
    assert portfolio.line("I2").reason == "bankruptcy"
    assert portfolio.line("I1").state is S.SOLD


def test_a_void_before_close_removes_the_receivable() -> None:
    book = _ledger()
    portfolio = Portfolio.cut("P1", sample_agreement(), book.ledger, date(2025, 6, 30))
    book.void_invoice("I1")
    portfolio.close(sample_agreement(), book.ledger, date(2025, 7, 15))
    assert portfolio.line("I1").reason == "voided"


def test_closing_twice_or_before_cutoff_is_refused() -> None:
    book = _ledger()
    portfolio = Portfolio.cut("P1", sample_agreement(), book.ledger, date(2025, 6, 30))
    with pytest.raises(RuleViolation, match="closing_after_cutoff"):
        portfolio.close(sample_agreement(), book.ledger, date(2025, 6, 29))
    portfolio.close(sample_agreement(), book.ledger, date(2025, 7, 15))
    with pytest.raises(RuleViolation, match=r"portfolio\.closed"):
        portfolio.close(sample_agreement(), book.ledger, date(2025, 7, 16))


def test_events_are_raised_in_the_past_tense_with_stable_ids() -> None:
    book = _ledger()
    portfolio = Portfolio.cut("P1", sample_agreement(), book.ledger, date(2025, 6, 30))
    portfolio.close(sample_agreement(), book.ledger, date(2025, 7, 15))
    events = portfolio.pull_events()
    assert [type(e).__name__ for e in events] == ["PortfolioCut", "PortfolioClosed"]
    assert [e.event_id for e in events] == ["PortfolioCut:P1:", "PortfolioClosed:P1:"]
    assert portfolio.pull_events() == []
