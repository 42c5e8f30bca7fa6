"""Many writers on PostgreSQL: a receivable is sold once and no amount due is ever forgotten.

Every race here starts its writers at the same instant (``testkit.racing``:
warmed-up processes or threads on a barrier) and goes through the normal handlers and
unit of work, as the service, the CLI and the scheduler would. Each round checks the
invariant; the test fails listing every round that broke it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from debtsale.agreement import PutbackReason
from debtsale.commands import (
    ClosePortfolio,
    Command,
    CutPortfolio,
    DecidePutback,
    RecordRemittance,
    RequestPutback,
)
from debtsale.journal import Account
from debtsale.lifecycle import HELD
from debtsale.money import Money
from debtsale.portfolio import Portfolio
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport
from forwardflow.store import SqlUnitOfWork, make_engine, upgrade
from forwardflow.store.tables import outbox, receivable_claims
from handlers.registry import LEDGER_HANDLER, handle_command
from testkit.builders import SAMPLE_AGREEMENT_TOML, LedgerBuilder
from testkit.racing import command_work, ledger_work, racers

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency]

CUTOFF, CLOSING = date(2025, 6, 30), date(2025, 7, 15)
AFTER = date(2025, 7, 21)  # payments recorded after the sale
ROUNDS = 50


def agreement_toml(agreement_id: str, *, cap: bool = True) -> str:
    """The sample agreement under another id (and, if asked, without a put-back cap)."""
    text = SAMPLE_AGREEMENT_TOML.replace('id = "acme-spot-2026"', f'id = "{agreement_id}"', 1)
    return text if cap else text.replace("cap_percent = 10\n", "")


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def add_agreements(engine: Engine, *texts: str) -> None:
    with SqlUnitOfWork(engine) as uow:
        for text in texts:
            uow.agreements.add(text)
        uow.commit()


def firm(tenant: str, invoices: int) -> LedgerBuilder:
    """``invoices`` eligible receivables of 1,000.00, one customer each (rate 0.15 at cut-off)."""
    book = LedgerBuilder(tenant=tenant)
    for n in range(invoices):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    return book


def load(engine: Engine, tenant: str, book: LedgerBuilder, start: int = 0) -> None:
    """Apply the builder's changes (from ``start``) through the ledger handler."""
    for change in book.changes[start:]:
        LEDGER_HANDLER(SqlUnitOfWork(engine), tenant, change)


def run(engine: Engine, command: Command) -> str:
    return handle_command(SqlUnitOfWork(engine), command).value


def portfolios_of(engine: Engine, tenant: str) -> list[Portfolio]:
    with SqlUnitOfWork(engine) as uow:
        return uow.portfolios.list(tenant)


def events_of(engine: Engine, portfolio_id: str, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(outbox.c.payload).order_by(outbox.c.id)).all()
    found = []
    for (payload,) in rows:
        event = json.loads(payload)
        if event["type"] == kind and event["data"]["portfolio_id"] == portfolio_id:
            found.append(event["data"])
    return found


# ---------------------------------------------------------------------- concurrent cuts
def _cut_round_problems(engine: Engine, tenant: str, results: dict[str, str]) -> list[str]:
    problems = []
    stored = {p.id: p for p in portfolios_of(engine, tenant)}
    owner: dict[str, str] = {}
    for portfolio in stored.values():
        for receivable_id, line in portfolio.lines.items():
            if line.state in HELD and owner.setdefault(receivable_id, portfolio.id) != portfolio.id:
                problems.append(f"{receivable_id} in {owner[receivable_id]} and {portfolio.id}")
    for portfolio_id, result in results.items():
        portfolio = stored.get(portfolio_id)
        if result == "refused:portfolio.empty":
            if portfolio is not None:
                problems.append(f"{portfolio_id} refused as empty but stored")
            continue
        if result != "applied" or portfolio is None:
            problems.append(f"{portfolio_id}: {result}")
            continue
        if not portfolio.lines:
            problems.append(f"{portfolio_id} stored with no receivable")
        (cut,) = events_of(engine, portfolio_id, "PortfolioCut")
        own = (
            len(portfolio.lines),
            str(portfolio.total_face_at_cutoff.amount),
            str(portfolio.total_price_at_cutoff.amount),
        )
        if (cut["count"], cut["face"]["amount"], cut["price"]["amount"]) != own:
            problems.append(f"{portfolio_id}: PortfolioCut {cut} is not its lines {own}")
    if len(owner) != 20:
        problems.append(f"{len(owner)} of 20 eligible receivables were cut")
    with engine.connect() as connection:
        claims = dict(
            connection.execute(
                select(receivable_claims.c.receivable_id, receivable_claims.c.portfolio_id).where(
                    receivable_claims.c.tenant == tenant
                )
            ).all()
        )
    if claims != owner:
        problems.append(f"claims {sorted(claims.items())} ≠ documents {sorted(owner.items())}")
    return problems


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_concurrent_cuts_never_sell_a_receivable_twice(
    engine: Engine, pg_url: str, mode: str
) -> None:
    """2–4 cuts for one company at the same instant: each receivable lands in one portfolio."""
    add_agreements(engine, *(agreement_toml(f"race-{n}") for n in range(4)))
    broken: dict[int, list[str]] = {}
    with racers(4, mode, pg_url) as field:  # type: ignore[arg-type]
        for round_ in range(ROUNDS):
            tenant = f"cut-{round_}"
            load(engine, tenant, firm(tenant, 20))
            cutters = 2 + round_ % 3
            commands = [
                CutPortfolio(
                    command_id=f"cut-{round_}-{n}",
                    tenant=tenant,
                    portfolio_id=f"P{round_}-{n}",
                    agreement_id=f"race-{n}",
                    cutoff=CUTOFF,
                )
                for n in range(cutters)
            ]
            outcomes = field.race([command_work(pg_url, c) for c in commands])
            results = {c.portfolio_id: o for c, o in zip(commands, outcomes, strict=True)}
            problems = _cut_round_problems(engine, tenant, results)
            if problems:
                broken[round_] = problems
    assert not broken, f"{len(broken)} of {ROUNDS} rounds broke the sale-once rule: {broken}"


# ---------------------------------------------------------------------- lost updates
def _sold(engine: Engine, tenant: str, book: LedgerBuilder, agreement_id: str) -> str:
    """Load the firm, cut and close portfolio ``S-<tenant>``; its id."""
    load(engine, tenant, book)
    portfolio_id = f"S-{tenant}"
    for command in (
        CutPortfolio(
            command_id=f"cut-{portfolio_id}",
            tenant=tenant,
            portfolio_id=portfolio_id,
            agreement_id=agreement_id,
            cutoff=CUTOFF,
        ),
        ClosePortfolio(
            command_id=f"close-{portfolio_id}", portfolio_id=portfolio_id, closing=CLOSING
        ),
    ):
        assert run(engine, command) == "applied"
    return portfolio_id


def _request(portfolio_id: str, receivable_id: str) -> RequestPutback:
    return RequestPutback(
        command_id=f"req-{portfolio_id}-{receivable_id}",
        portfolio_id=portfolio_id,
        request_id=f"R-{receivable_id}",
        receivable_id=receivable_id,
        reason=PutbackReason.DISPUTE,
        fact_date=date(2025, 5, 1),
        requested_on=date(2025, 8, 1),
        evidence={},
    )


def _decide(portfolio_id: str, receivable_id: str) -> DecidePutback:
    return DecidePutback(
        command_id=f"dec-{portfolio_id}-{receivable_id}",
        portfolio_id=portfolio_id,
        request_id=f"R-{receivable_id}",
        accept=True,
        decided_on=date(2025, 8, 5),
    )


def _remit(portfolio_id: str, key: str, amount: str) -> RecordRemittance:
    return RecordRemittance(
        command_id=f"remit-{portfolio_id}-{key}",
        portfolio_id=portfolio_id,
        remittance_id=f"W-{key}",
        paid_on=date(2025, 8, 20),
        amount=Money.of(amount, "USD"),
    )


def books_of(engine: Engine, portfolio_id: str) -> dict[str, Any]:
    """What the buyer and the journal are told, and what the facts say is due."""
    with SqlUnitOfWork(engine) as uow:
        portfolio = uow.portfolios.get(portfolio_id)
        assert portfolio is not None
        agreement = uow.agreements.get(portfolio.agreement_id)
        items = amounts_due(portfolio, uow.ledger.load(portfolio.tenant), agreement.remittance)
    statement = AmountsDueReport.of(portfolio, items, date(2025, 12, 31))
    due_to_buyer = Decimal(0)
    for entry in events_of(engine, portfolio_id, "JournalEntryRequested"):
        for account, debit, credit, _customer in entry["lines"]:
            if account == Account.DUE_TO_BUYER.value:
                due_to_buyer += Decimal(credit) - Decimal(debit)
    return {
        "due": sorted((i.receivable_id, i.source, str(i.amount.amount)) for i in items),
        "announced": sorted(
            (a.receivable_id, a.source, str(a.amount.amount))
            for a in portfolio.announced_dues.values()
            if not a.withdrawn
        ),
        "outstanding": str(statement.outstanding.amount),
        "journal_due_to_buyer": str(due_to_buyer),
        "putbacks": sorted((k, r.decision.status.value) for k, r in portfolio.putbacks.items()),
        "remittances": sorted(portfolio.remittances),
        "states": sorted((k, line.state.value) for k, line in portfolio.lines.items()),
    }


def _after_sale_race(book: LedgerBuilder) -> int:
    """Add the race's payments to ``book``; the index of the first one."""
    start = len(book.changes)
    for n in (1, 2, 3):
        book.pay(f"late-{n}", f"C{n}", AFTER, {f"I{n}": "200.00"}, recorded_on=AFTER)
    return start


def test_concurrent_payments_decisions_and_remittances_lose_no_amount_due(
    engine: Engine, pg_url: str
) -> None:
    """Payments on three sold receivables (three processes), a put-back decision and a
    remittance race on one closed portfolio: every amount due is remembered, and the
    statement and the journal equal a serial replay of the same facts; voiding a raced
    payment afterwards withdraws it."""
    add_agreements(engine, agreement_toml("lost-update", cap=False))
    broken: dict[int, list[str]] = {}
    with racers(5, "processes", pg_url) as field:
        for round_ in range(ROUNDS):
            outcomes: dict[str, dict[str, Any]] = {}
            for how in ("raced", "serial"):
                tenant = f"lu-{round_}-{how}"
                book = firm(tenant, 8)
                book.pay("early", "C0", AFTER, {"I0": "300.00"}, recorded_on=AFTER)
                portfolio_id = _sold(engine, tenant, book, "lost-update")
                assert run(engine, _request(portfolio_id, "I4")) == "applied"
                start = _after_sale_race(book)
                works = [ledger_work(pg_url, tenant, c) for c in book.changes[start:]]
                works.append(command_work(pg_url, _decide(portfolio_id, "I4")))
                works.append(command_work(pg_url, _remit(portfolio_id, "1", "100.00")))
                if how == "raced":
                    results = field.race(works)
                else:
                    results = [work.call(*work.args) for work in works]
                if any(r not in ("applied",) for r in results):
                    broken.setdefault(round_, []).append(f"{how}: outcomes {results}")
                book.void_payment("late-1")
                load(engine, tenant, book, start=len(book.changes) - 1)
                outcomes[how] = books_of(engine, portfolio_id)
                withdrawn = events_of(engine, portfolio_id, "AmountDueWithdrawn")
                if [w["receivable_id"] for w in withdrawn] != ["I1"]:
                    broken.setdefault(round_, []).append(f"{how}: withdrawals {withdrawn}")
            raced, serial = outcomes["raced"], outcomes["serial"]
            if raced["announced"] != raced["due"]:
                broken.setdefault(round_, []).append(
                    f"announced {raced['announced']} ≠ due {raced['due']}"
                )
            if raced["journal_due_to_buyer"] != raced["outstanding"]:
                broken.setdefault(round_, []).append(f"journal ≠ statement: {raced}")
            if raced != serial:
                broken.setdefault(round_, []).append(f"raced {raced} ≠ serial {serial}")
    assert not broken, f"{len(broken)} of {ROUNDS} rounds lost an update: {broken}"


# ---------------------------------------------------------------------- interleavings
# An operation one worker applies: a ledger change on a sold receivable, a put-back
# request and decision (in that order, on one worker), or a small remittance. Amounts are
# chosen so every operation's outcome is independent of the order (the buyer is already
# owed 500.00 on I0, which no operation touches; the agreement has no put-back cap).
Op = tuple[str, str, int]


def _ops() -> Any:
    from hypothesis import strategies as st

    sold = st.sampled_from(["I1", "I2", "I3", "I4", "I5"])
    payment = st.sampled_from(["pA", "pB", "pC"])
    op = st.one_of(
        st.tuples(st.just("pay"), payment, st.integers(1, 5)),  # pay (or re-link) on I<n>
        st.tuples(st.just("void"), payment, st.just(0)),
        st.tuples(st.just("putback"), sold, st.just(0)),
        st.tuples(st.just("remit"), st.just("r"), st.integers(1, 40)),
    )
    return st.lists(st.tuples(st.integers(0, 1), op), min_size=2, max_size=10)


def _worker_plans(
    engine_url: str, tenant: str, portfolio_id: str, book: LedgerBuilder, script: list[Any]
) -> list[list[Any]]:
    """Each worker's works in order; ledger changes are made once, in script order."""
    plans: list[list[Any]] = [[], []]
    requested: set[str] = set()
    for position, (worker, (kind, key, number)) in enumerate(script):
        if kind == "pay":
            book.pay(key, f"C{number}", AFTER, {f"I{number}": "150.00"}, recorded_on=AFTER)
            plans[worker].append(ledger_work(engine_url, tenant, book.changes[-1]))
        elif kind == "void":
            book.void_payment(key)
            plans[worker].append(ledger_work(engine_url, tenant, book.changes[-1]))
        elif kind == "putback" and key not in requested:
            requested.add(key)
            plans[worker].append(command_work(engine_url, _request(portfolio_id, key)))
            plans[worker].append(command_work(engine_url, _decide(portfolio_id, key)))
        elif kind == "remit":
            remit = _remit(portfolio_id, f"{key}-{position}", f"{number}.00")  # one id each
            plans[worker].append(command_work(engine_url, remit))
    return plans


def _run_plans(plans: list[list[Any]], *, together: bool) -> list[str]:
    import threading

    results: list[list[str]] = [[], []]

    def work(worker: int) -> None:
        for item in plans[worker]:
            results[worker].append(item.call(*item.args))

    if not together:
        work(0)
        work(1)
        return results[0] + results[1]
    threads = [threading.Thread(target=work, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results[0] + results[1]


@pytest.fixture
def interleaving_engine(pg_url: str) -> Iterator[tuple[Engine, str]]:
    engine = make_engine(pg_url)
    upgrade(engine)
    add_agreements(engine, agreement_toml("interleave", cap=False))
    yield engine, pg_url
    engine.dispose()


def test_interleaved_commands_and_ledger_changes_end_as_the_serial_order(
    interleaving_engine: tuple[Engine, str],
) -> None:
    """Random scripts on two concurrent workers end in the state of the same script applied
    by one worker after the other: facts, statement, announcements, journal, put-backs."""
    from hypothesis import given, settings

    engine, url = interleaving_engine
    counter = iter(range(10_000))

    @settings(max_examples=40, deadline=None)
    @given(script=_ops())
    def check(script: list[Any]) -> None:
        example = next(counter)
        states = {}
        for how in ("together", "serial"):
            tenant = f"il-{example}-{how}"
            book = firm(tenant, 6)
            book.pay("base", "C0", AFTER, {"I0": "500.00"}, recorded_on=AFTER)
            portfolio_id = _sold(engine, tenant, book, "interleave")
            plans = _worker_plans(url, tenant, portfolio_id, book, script)
            results = _run_plans(plans, together=how == "together")
            assert all(r in ("applied", "stale", "duplicate") for r in results), results
            with SqlUnitOfWork(engine) as uow:
                facts = uow.ledger.load(tenant).snapshot()
            state = books_of(engine, portfolio_id)
            assert state["announced"] == state["due"]
            assert state["journal_due_to_buyer"] == state["outstanding"]
            states[how] = (json.dumps(facts, default=str, sort_keys=True), state)
        assert states["together"][1] == states["serial"][1]
        assert states["together"][0] == states["serial"][0]

    check()
    assert next(counter) >= 20  # the examples ran (each one a pair of real portfolios)
