"""After the close, on fakes: put-backs, amounts due to the buyer, remittances, flags, registry."""

from __future__ import annotations

import json
import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debtsale.agreement import PutbackReason
from debtsale.codec import MESSAGE_TYPES, decode_portfolio, encode_portfolio
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
from debtsale.events import (
    AmountDueToBuyer,
    AmountDueWithdrawn,
    JournalEntryRequested,
    PutbackAccepted,
)
from debtsale.journal import Account
from debtsale.lifecycle import ExclusionReason, ReceivableState
from debtsale.money import Money
from debtsale.putback import PutbackStatus
from debtsale.remittance import amounts_due
from handlers.ledger import apply_ledger_change
from handlers.outcome import Outcome
from handlers.registry import COMMAND_HANDLERS, handle_command
from testkit.builders import LedgerBuilder, sample_agreement, usd
from testkit.fakes import FakeAgreementStore, FakeUnitOfWork

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


def _net_due(uow: FakeUnitOfWork) -> Money:
    """What the journal now says is owed to the buyer: its due-to-buyer credits less debits."""
    net = usd("0.00")
    for event in _events(uow, JournalEntryRequested):
        if not event.entry_id.startswith(("due:", "undue:")):
            continue
        for account, debit, credit, _customer in event.lines:
            if account == Account.DUE_TO_BUYER.value:
                net = net + usd(credit) - usd(debit)
    return net


def test_a_voided_payment_after_the_sale_is_withdrawn_and_its_entry_reversed(
    uow: FakeUnitOfWork, book: LedgerBuilder
) -> None:
    _sell(uow)
    apply_ledger_change(uow, "t1", book.pay("P-late", "C4", date(2025, 8, 1), {"I4": "200.00"}))
    void = book.void_payment("P-late")
    assert apply_ledger_change(uow, "t1", void) is Outcome.APPLIED
    assert apply_ledger_change(uow, "t1", void) is Outcome.DUPLICATE
    [withdrawn] = _events(uow, AmountDueWithdrawn)
    assert (withdrawn.receivable_id, withdrawn.amount, withdrawn.edition) == ("I4", usd("200"), 0)
    assert withdrawn.withdrawn_on == void.version.updated.date()
    reversal = _events(uow, JournalEntryRequested)[-1]
    assert reversal.entry_id == "undue:P1:I4:payment:P-late:200.00:0"
    assert _net_due(uow) == usd("0.00")

    # the payment comes back (un-voided as a new version): announced again, under new ids
    apply_ledger_change(uow, "t1", book.pay("P-late", "C4", date(2025, 8, 1), {"I4": "200.00"}))
    due = _events(uow, AmountDueToBuyer)
    assert [d.edition for d in due] == [0, 1]
    assert due[0].event_id != due[1].event_id
    assert _events(uow, JournalEntryRequested)[-1].entry_id == "due:P1:I4:payment:P-late:200.00:1"
    assert _net_due(uow) == usd("200.00")


def test_a_payment_changed_after_the_sale_owes_the_new_amount_only(
    uow: FakeUnitOfWork, book: LedgerBuilder
) -> None:
    _sell(uow)
    apply_ledger_change(uow, "t1", book.pay("P-late", "C4", date(2025, 8, 1), {"I4": "200.00"}))
    apply_ledger_change(uow, "t1", book.pay("P-late", "C4", date(2025, 8, 1), {"I4": "80.00"}))
    assert [w.amount for w in _events(uow, AmountDueWithdrawn)] == [usd("200.00")]
    assert [(d.amount, d.edition) for d in _events(uow, AmountDueToBuyer)] == [
        (usd("200.00"), 0),
        (usd("80.00"), 1),
    ]
    assert _net_due(uow) == usd("80.00")
    apply_ledger_change(uow, "t1", book.delete_payment("P-late"))
    assert _net_due(uow) == usd("0.00")
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    assert all(held.withdrawn for held in portfolio.announced_dues.values())


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


_OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["pay", "void", "delete"]),
        st.sampled_from(["P-a", "P-b"]),
        st.sampled_from(["50.00", "80.00", "200.00"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(_OPERATIONS, st.randoms(use_true_random=False))
def test_the_journal_owes_the_buyer_what_is_due_whatever_the_order(
    operations: list[tuple[str, str, str]], shuffle: random.Random
) -> None:
    book = LedgerBuilder(tenant="t1")
    for n in range(20):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    uow = FakeUnitOfWork()
    uow.agreements = FakeAgreementStore(sample_agreement())
    for change in book.changes:
        apply_ledger_change(uow, "t1", change)
    _sell(uow)
    after = []
    for kind, payment, amount in operations:
        if kind == "pay":
            after.append(book.pay(payment, "C4", date(2025, 8, 1), {"I4": amount}))
        elif kind == "void":
            after.append(book.void_payment(payment))
        else:
            after.append(book.delete_payment(payment))
    shuffle.shuffle(after)  # delivered in any order, some twice
    for change in after + after[:2]:
        apply_ledger_change(uow, "t1", change)
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    due = amounts_due(portfolio, uow.ledger.load("t1"), sample_agreement().remittance)
    assert _net_due(uow) == sum((item.amount for item in due), usd("0.00"))
    assert len({e.event_id for e in uow.events.events}) == len(uow.events.events)


def test_what_was_announced_survives_the_store_and_old_documents_still_load(
    uow: FakeUnitOfWork, book: LedgerBuilder
) -> None:
    _sell(uow)
    apply_ledger_change(uow, "t1", book.pay("P-late", "C4", date(2025, 8, 1), {"I4": "200.00"}))
    portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    document = json.loads(json.dumps(encode_portfolio(portfolio)))
    assert decode_portfolio(document).announced_dues == portfolio.announced_dues
    document.pop("announced_dues")  # as stored before withdrawals existed
    assert decode_portfolio(document).announced_dues == {}
