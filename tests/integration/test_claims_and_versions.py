"""The database holds the money rules: one claim per receivable, saves over the version read."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
from sqlalchemy import Engine, insert, select

from debtsale.agreement import PutbackReason, sample_agreement_text
from debtsale.commands import (
    ClosePortfolio,
    CutPortfolio,
    DecidePutback,
    RemoveReceivable,
    RequestPutback,
)
from forwardflow.store import SqlUnitOfWork, make_engine, upgrade
from forwardflow.store.tables import portfolios, receivable_claims
from handlers.ports import ConflictError
from handlers.registry import LEDGER_HANDLER, handle_command
from testkit.builders import LedgerBuilder

CUTOFF, CLOSING = date(2025, 6, 30), date(2025, 7, 15)


def _firm(engine: Engine, tenant: str = "t1", invoices: int = 4) -> None:
    book = LedgerBuilder(tenant=tenant)
    for n in range(invoices):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    for change in book.changes:
        LEDGER_HANDLER(SqlUnitOfWork(engine), tenant, change)


def _claims(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(receivable_claims.c.receivable_id, receivable_claims.c.portfolio_id)
        ).all()
    return dict(rows)  # type: ignore[arg-type]


def _cut(engine: Engine, portfolio_id: str, tenant: str = "t1") -> str:
    return handle_command(
        SqlUnitOfWork(engine),
        CutPortfolio(
            command_id=f"cut-{portfolio_id}",
            tenant=tenant,
            portfolio_id=portfolio_id,
            agreement_id="acme-spot-2026",
            cutoff=CUTOFF,
        ),
    ).value


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.agreements.add(sample_agreement_text().replace("cap_percent = 10\n", ""))
        uow.commit()
    _firm(migrated_engine)
    return migrated_engine


def test_claims_follow_the_lines_a_portfolio_holds(engine: Engine) -> None:
    """Cut claims, a removal releases, a put-back accepted releases, a replacement claims."""
    assert _cut(engine, "P1") == "applied"
    assert _claims(engine) == dict.fromkeys(("I0", "I1", "I2", "I3"), "P1")
    handle_command(
        SqlUnitOfWork(engine),
        RemoveReceivable(
            command_id="rm", portfolio_id="P1", receivable_id="I3", reason="settlement"
        ),
    )
    assert _claims(engine) == dict.fromkeys(("I0", "I1", "I2"), "P1")
    assert _cut(engine, "P2") == "applied"  # the released receivable can be sold again
    assert _claims(engine)["I3"] == "P2"

    handle_command(
        SqlUnitOfWork(engine),
        ClosePortfolio(command_id="close", portfolio_id="P1", closing=CLOSING),
    )
    for command in (
        RequestPutback(
            command_id="req",
            portfolio_id="P1",
            request_id="R1",
            receivable_id="I2",
            reason=PutbackReason.DISPUTE,
            fact_date=date(2025, 5, 1),
            requested_on=date(2025, 8, 1),
            evidence={},
        ),
        DecidePutback(
            command_id="dec",
            portfolio_id="P1",
            request_id="R1",
            accept=True,
            decided_on=date(2025, 8, 5),
        ),
    ):
        assert handle_command(SqlUnitOfWork(engine), command).value == "applied"
    assert _claims(engine) == {"I0": "P1", "I1": "P1", "I3": "P2"}  # put back: released


def test_a_save_over_a_version_someone_else_saved_conflicts(engine: Engine) -> None:
    _cut(engine, "P1")
    with SqlUnitOfWork(engine) as first:
        mine = first.portfolios.get("P1")  # read, then another writer saves
    with SqlUnitOfWork(engine) as second:
        theirs = second.portfolios.get("P1")
        assert mine is not None
        assert theirs is not None
        assert mine.version == theirs.version == 1
        theirs.remove("I0", "settlement")
        theirs.pull_events()
        second.portfolios.save(theirs)
        second.commit()
    with SqlUnitOfWork(engine) as third:
        mine.remove("I1", "settlement")
        mine.pull_events()
        with pytest.raises(ConflictError, match=r"changed since it was read at version 1"):
            third.portfolios.save(mine)
    with SqlUnitOfWork(engine) as uow:
        stored = uow.portfolios.get("P1")
        assert stored is not None
        assert stored.version == 2
        assert stored.lines["I0"].reason == "settlement"
        assert stored.lines["I1"].state.value == "in_portfolio"  # the stale save left nothing


def test_a_portfolio_that_takes_a_claimed_receivable_conflicts(engine: Engine) -> None:
    _cut(engine, "P1")
    with SqlUnitOfWork(engine) as uow:
        stored = uow.portfolios.get("P1")
        assert stored is not None
        stored.id = "P-copy"  # the same receivables, as a racing cut would hold them
        stored.version = 0
        with pytest.raises(ConflictError, match=r"held by another portfolio: I0, I1, I2, I3"):
            uow.portfolios.add(stored)


def test_an_empty_cut_is_refused_and_stores_nothing(engine: Engine) -> None:
    _cut(engine, "P1")
    from testkit.racing import run_command

    assert (
        run_command(
            str(engine.url.render_as_string(hide_password=False)),
            {
                "type": "CutPortfolio",
                "data": {
                    "command_id": "cut-P2",
                    "tenant": "t1",
                    "portfolio_id": "P2",
                    "agreement_id": "acme-spot-2026",
                    "cutoff": "2025-06-30",
                },
            },
        )
        == "refused:portfolio.empty"
    )
    with engine.connect() as connection:
        assert connection.execute(select(portfolios.c.id)).scalars().all() == ["P1"]


def test_the_migration_claims_for_the_portfolio_cut_first_and_names_a_double_sale(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Portfolios stored before revision 0008 get members and claims from their documents."""
    engine = make_engine(db_url)
    upgrade(engine, "0007")
    with engine.begin() as connection:
        for portfolio_id, cutoff in (("P-late", "2025-07-31"), ("P-early", "2025-06-30")):
            document = {
                "id": portfolio_id,
                "cutoff": cutoff,
                "lines": {
                    "I1": {"state": "sold"},
                    "I2": {"state": "removed"},
                },
            }
            connection.execute(
                insert(portfolios).values(
                    id=portfolio_id,
                    tenant="t1",
                    agreement_id="a",
                    status="closed",
                    document=json.loads(json.dumps(document)),
                )
            )
    with caplog.at_level(logging.WARNING):
        upgrade(engine, "0008")
    assert _claims(engine) == {"I1": "P-early"}
    assert "I1 of t1 is held by portfolios P-early and P-late: sold twice" in caplog.text
    engine.dispose()
