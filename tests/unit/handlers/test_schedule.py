"""The forward-flow scheduler: the latest tranche is cut once, each tranche closes when due."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal

from debtsale.agreement import Agreement
from debtsale.commands import ClosePortfolio, CutPortfolio
from debtsale.errors import RuleViolation
from handlers.ledger import apply_ledger_change
from handlers.outcome import Outcome
from handlers.schedule import plan_tranches, run_schedule
from testkit.builders import SAMPLE_AGREEMENT_TOML, LedgerBuilder, sample_agreement
from testkit.fakes import FakeAgreementStore, FakeUnitOfWork


def _flow() -> Agreement:
    data = tomllib.loads(SAMPLE_AGREEMENT_TOML, parse_float=Decimal)
    data.update(
        id="acme-flow",
        kind="forward_flow",
        period="monthly",
        starts_on=date(2025, 1, 1),
        tenant="t1",
        closing_business_days=5,
    )
    return Agreement.from_data(data)


def test_a_spot_agreement_is_never_scheduled() -> None:
    assert plan_tranches([sample_agreement()], [], date(2026, 1, 1)) == []


def test_only_the_latest_tranche_is_cut() -> None:
    (cut,) = plan_tranches([_flow()], [], date(2025, 3, 10))
    assert isinstance(cut, CutPortfolio)
    assert (cut.portfolio_id, cut.cutoff, cut.tenant) == (
        "acme-flow-2025-02-28",
        date(2025, 2, 28),
        "t1",
    )
    assert cut.command_id == "schedule:cut:acme-flow-2025-02-28"


def test_cut_then_close_once_it_is_due() -> None:
    uow = FakeUnitOfWork()
    uow.agreements = FakeAgreementStore(_flow())
    book = LedgerBuilder(tenant="t1")
    book.customer("C1")
    book.invoice("I1", "C1", "900.00", invoice_date=date(2024, 9, 1))
    for change in book.changes:
        apply_ledger_change(uow, "t1", change)

    def run(day: date) -> list[tuple[str, Outcome]]:
        return [(type(c).__name__, o) for c, o in run_schedule(lambda: uow, day)]

    assert run(date(2025, 2, 3)) == [("CutPortfolio", Outcome.APPLIED)]
    assert run(date(2025, 2, 6)) == []  # closing is 5 business days after 31 Jan: 7 Feb
    assert run(date(2025, 2, 7)) == [("ClosePortfolio", Outcome.APPLIED)]
    assert run(date(2025, 2, 8)) == []
    closed = uow.portfolios.get("acme-flow-2025-01-31")
    assert closed is not None
    assert closed.closing == date(2025, 2, 7)
    assert [type(c) for c in plan_tranches([_flow()], uow.portfolios.list(), date(2025, 3, 3))] == [
        CutPortfolio
    ]
    assert not any(
        isinstance(c, ClosePortfolio) for c in plan_tranches([_flow()], [], date(2025, 3, 3))
    )


def test_a_tranche_with_nothing_to_cut_is_refused_and_the_rest_still_runs() -> None:
    uow = FakeUnitOfWork()
    second = _flow().model_copy(update={"id": "acme-flow-2"})
    uow.agreements = FakeAgreementStore(_flow(), second)
    book = LedgerBuilder(tenant="t1")
    book.customer("C1")
    book.invoice("I1", "C1", "900.00", invoice_date=date(2024, 9, 1))
    for change in book.changes:
        apply_ledger_change(uow, "t1", change)

    done = run_schedule(lambda: uow, date(2025, 2, 3))
    first, other = done
    assert first[1] is Outcome.APPLIED  # acme-flow took the one receivable
    assert isinstance(other[1], RuleViolation)
    assert other[1].rule == "portfolio.empty"  # acme-flow-2 found nothing: said, not stored
    assert uow.portfolios.get("acme-flow-2-2025-01-31") is None
