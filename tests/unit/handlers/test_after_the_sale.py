"""After the close, on fakes: put-backs, amounts due to the buyer, remittances, flags, registry."""

from __future__ import annotations

from datetime import date

import pytest

from debtsale.agreement import PutbackReason
from debtsale.codec import MESSAGE_TYPES
from debtsale.commands import (
    ClosePortfolio,
    Command,
    CutPortfolio,
    DecidePutback,
    FlagReceivable,
    RecordRemittance,
    RequestPutback,
)
from debtsale.errors import RuleViolation
from debtsale.events import AmountDueToBuyer, JournalEntryRequested, PutbackAccepted
from debtsale.lifecycle import ExclusionReason, ReceivableState
from debtsale.putback import PutbackStatus
from debtsale.testing import LedgerBuilder, sample_agreement, usd
from handlers.ledger import apply_ledger_change
from handlers.outcome import Outcome
from handlers.registry import COMMAND_HANDLERS, handle_command
from handlers.testing import FakeAgreementStore, FakeUnitOfWork

CUTOFF, CLOSING = date(2025, 6, 30), date(2025, 7, 15)


@pytest.fixture
def book() -> LedgerBuilder:
    book = LedgerBuilder(tenant="t1")
    for n in range(20):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    return book


@pytest.fixture
def uow(book: LedgerBuilder) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.agreements = FakeAgreementStore(sample_agreement())
    for change in book.changes:
        apply_ledger_change(uow, "t1", change)
    return uow


def _sell(uow: FakeUnitOfWork) -> None:
    cut = CutPortfolio(
        command_id="cut",
        tenant="t1",
        portfolio_id="P1",
        agreement_id="acme-spot-2026",
        cutoff=CUTOFF,
    )
    assert handle_command(uow, cut) is Outcome.APPLIED
    close = ClosePortfolio(command_id="close", portfolio_id="P1", closing=CLOSING)
    assert handle_command(uow, close) is Outcome.APPLIED  # not merely truthy: "duplicate" is too


def _request(request_id: str = "R1", receivable: str = "I3", **changes: object) -> RequestPutback:
    fields: dict[str, object] = {
        "command_id": f"req-{request_id}",
        "portfolio_id": "P1",
        "request_id": request_id,
        "receivable_id": receivable,
        "reason": PutbackReason.DISPUTE,
        "fact_date": date(2025, 7, 1),
        "requested_on": date(2025, 8, 1),
        **changes,
    }
    return RequestPutback(**fields)  # type: ignore[arg-type]


def _events(uow: FakeUnitOfWork, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in uow.events.events if isinstance(e, kind)]


def test_every_command_type_has_exactly_one_handler() -> None:
    commands = {t for t in MESSAGE_TYPES.values() if issubclass(t, Command)}
    assert set(COMMAND_HANDLERS) == commands


def test_the_close_requests_the_balanced_sale_entry(uow: FakeUnitOfWork) -> None:
    _sell(uow)
    (entry,) = _events(uow, JournalEntryRequested)
    assert entry.entry_id == "sale:P1"
    debits = sum(usd(d).amount for _, d, _, _ in entry.lines)
    credits = sum(usd(c).amount for _, _, c, _ in entry.lines)
    assert debits == credits == usd("20000.00").amount


def test_an_accepted_putback_refunds_the_price_once_with_its_entry(uow: FakeUnitOfWork) -> None:
    _sell(uow)
    assert handle_command(uow, _request()) is Outcome.APPLIED
    assert uow.portfolios.get("P1").putbacks["R1"].decision.status is PutbackStatus.PENDING  # type: ignore[union-attr]
    decide = DecidePutback(
        command_id="d1",
        portfolio_id="P1",
        request_id="R1",
        accept=True,
        decided_on=date(2025, 8, 5),
    )
    assert handle_command(uow, decide) is Outcome.APPLIED
    assert handle_command(uow, decide) is Outcome.DUPLICATE
    again = DecidePutback(
        command_id="d2",
        portfolio_id="P1",
        request_id="R1",
        accept=True,
        decided_on=date(2025, 8, 9),
    )
    handle_command(uow, again)  # a second decision changes nothing and posts nothing
    (accepted,) = _events(uow, PutbackAccepted)
    assert accepted.refund == usd("150.00")
    entries = [e.entry_id for e in _events(uow, JournalEntryRequested)]
    assert entries == ["sale:P1", "putback:P1:R1"]
    line = uow.portfolios.get("P1").lines["I3"]  # type: ignore[union-attr]
    assert line.state is ReceivableState.PUT_BACK


def test_a_request_outside_the_rules_is_rejected_with_the_rule(uow: FakeUnitOfWork) -> None:
    _sell(uow)
    handle_command(uow, _request(fact_date=date(2025, 7, 20)))
    decision = uow.portfolios.get("P1").putbacks["R1"].decision  # type: ignore[union-attr]
    assert (decision.status, decision.rule) == (
        PutbackStatus.REJECTED,
        "putback.fact_predates_closing",
    )


def test_a_payment_after_the_sale_is_owed_to_the_buyer_once(
    uow: FakeUnitOfWork, book: LedgerBuilder
) -> None:
    _sell(uow)
    payment = book.pay("P-late", "C4", date(2025, 8, 1), {"I4": "200.00"})
    assert apply_ledger_change(uow, "t1", payment) is Outcome.APPLIED
    assert apply_ledger_change(uow, "t1", payment) is Outcome.DUPLICATE
    other = book.pay("P-other", "C5", date(2025, 8, 2), {"I5": "50.00"})
    apply_ledger_change(uow, "t1", other)  # announces its own item, not the first again
    due = _events(uow, AmountDueToBuyer)
    assert [(d.receivable_id, d.amount) for d in due] == [
        ("I4", usd("200.00")),
        ("I5", usd("50.00")),
    ]
    assert due[0].due_on > due[0].received_on == date(2025, 8, 1)
    entries = [e.entry_id for e in _events(uow, JournalEntryRequested)]
    assert entries[1:] == ["due:P1:I4:payment:P-late:200.00", "due:P1:I5:payment:P-other:50.00"]


def test_a_remittance_never_exceeds_what_is_outstanding(
    uow: FakeUnitOfWork, book: LedgerBuilder
) -> None:
    _sell(uow)
    apply_ledger_change(uow, "t1", book.pay("P-late", "C4", date(2025, 8, 1), {"I4": "200.00"}))

    def remit(rid: str, amount: str) -> RecordRemittance:
        return RecordRemittance(
            command_id=f"rem-{rid}",
            portfolio_id="P1",
            remittance_id=rid,
            paid_on=date(2025, 8, 20),
            amount=usd(amount),
        )

    with pytest.raises(RuleViolation, match="exceeds"):
        handle_command(uow, remit("M0", "200.01"))
    assert handle_command(uow, remit("M1", "200.00")) is Outcome.APPLIED
    assert uow.portfolios.get("P1").remitted == usd("200.00")  # type: ignore[union-attr]
    assert _events(uow, JournalEntryRequested)[-1].entry_id == "remittance:P1:M1"


def test_a_flagged_receivable_is_not_cut_and_leaves_a_live_sale(uow: FakeUnitOfWork) -> None:
    def flag(receivable: str, since: date) -> FlagReceivable:
        return FlagReceivable(
            command_id=f"flag-{receivable}",
            tenant="t1",
            receivable_id=receivable,
            reason=ExclusionReason.BANKRUPTCY,
            since=since,
        )

    handle_command(uow, flag("I1", date(2025, 5, 1)))
    handle_command(uow, flag("I2", date(2025, 7, 10)))  # after the cut, before the close
    _sell(uow)
    lines = uow.portfolios.get("P1").lines  # type: ignore[union-attr]
    assert "I1" not in lines
    assert lines["I2"].state is ReceivableState.REMOVED
    assert lines["I0"].state is ReceivableState.SOLD
