"""The ledger handler on fakes: once per event id, newest wins, nothing half-applied."""

from __future__ import annotations

from datetime import date

import pytest

from debtsale.changes import LedgerChange
from handlers.ledger import (
    BatchItemError,
    Outcome,
    apply_ledger_change,
    apply_ledger_changes,
    ledger_consumer,
)
from testkit.builders import LedgerBuilder, usd
from testkit.fakes import FakeUnitOfWork


@pytest.fixture
def history() -> list[LedgerChange]:
    book = LedgerBuilder()
    book.invoice("I1", "C1", "100.00", invoice_date=date(2025, 1, 1))
    book.invoice("I1", "C1", "120.00", invoice_date=date(2025, 1, 1))
    return book.changes


def test_a_change_is_applied_and_committed(history: list[LedgerChange]) -> None:
    uow = FakeUnitOfWork()
    assert apply_ledger_change(uow, "t1", history[0]) is Outcome.APPLIED
    assert uow.commits == 1
    assert uow.ledger.load("t1").receivable("I1").original == usd("100.00")  # type: ignore[union-attr]
    assert (ledger_consumer("t1"), history[0].event_id) in uow.inbox.seen


def test_a_redelivery_is_a_no_op(history: list[LedgerChange]) -> None:
    uow = FakeUnitOfWork()
    apply_ledger_change(uow, "t1", history[0])
    assert apply_ledger_change(uow, "t1", history[0]) is Outcome.DUPLICATE
    assert uow.commits == 1


def test_an_older_version_arriving_late_is_stale(history: list[LedgerChange]) -> None:
    uow = FakeUnitOfWork()
    apply_ledger_change(uow, "t1", history[1])
    assert apply_ledger_change(uow, "t1", history[0]) is Outcome.STALE
    assert uow.ledger.load("t1").receivable("I1").original == usd("120.00")  # type: ignore[union-attr]
    assert (ledger_consumer("t1"), history[0].event_id) in uow.inbox.seen  # a stale one is done too


def test_a_failure_leaves_neither_the_fact_nor_the_inbox_claim(
    history: list[LedgerChange], monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = FakeUnitOfWork()

    def broken(tenant: str, change: LedgerChange) -> bool:
        uow.ledger.load(tenant).apply(change)
        raise ConnectionError("database went away")

    monkeypatch.setattr(uow.ledger, "record", broken)
    with pytest.raises(ConnectionError):
        apply_ledger_change(uow, "t1", history[0])
    assert uow.inbox.seen == set()
    assert uow.ledger.load("t1").receivable("I1") is None
    monkeypatch.undo()
    assert apply_ledger_change(uow, "t1", history[0]) is Outcome.APPLIED  # the retry works


def test_a_batch_is_applied_in_order_in_one_commit(history: list[LedgerChange]) -> None:
    uow = FakeUnitOfWork()
    outcomes = apply_ledger_changes(
        uow, [("t1", history[0]), ("t1", history[1]), ("t1", history[0])]
    )
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE]
    assert uow.commits == 1
    assert uow.ledger.load("t1").receivable("I1").original == usd("120.00")  # type: ignore[union-attr]


def test_a_failing_change_names_its_place_and_the_batch_commits_nothing(
    history: list[LedgerChange], monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = FakeUnitOfWork()
    record = uow.ledger.record

    def record_or_fail(tenant: str, change: LedgerChange) -> object:
        if change.event_id == history[1].event_id:
            raise ValueError("a bug on this one change")
        return record(tenant, change)

    monkeypatch.setattr(uow.ledger, "record", record_or_fail)
    with pytest.raises(BatchItemError) as failed:
        apply_ledger_changes(uow, [("t1", history[0]), ("t1", history[1])])
    assert failed.value.index == 1
    assert isinstance(failed.value.error, ValueError)
    assert uow.commits == 0
    assert uow.ledger.load("t1").receivable("I1") is None  # the first was rolled back too
