"""Agreements, portfolios and their outbox events in SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine

from debtsale.agreement import sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio
from debtsale.errors import RuleViolation
from debtsale.testing import LedgerBuilder
from forwardflow.store import SqlUnitOfWork
from handlers.ledger import apply_ledger_change
from handlers.portfolio import close_portfolio, cut_portfolio


def test_cut_and_close_through_the_store(migrated_engine: Engine) -> None:
    with SqlUnitOfWork(migrated_engine) as uow:
        agreement = uow.agreements.add(sample_agreement_text())
        uow.commit()
    with SqlUnitOfWork(migrated_engine) as uow:
        with pytest.raises(RuleViolation, match=r"already exists"):
            uow.agreements.add(sample_agreement_text())
        assert [a.id for a in uow.agreements.list()] == [agreement.id]
    book = LedgerBuilder(tenant="t1")
    for n in range(4):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "2500.00", invoice_date=date(2025, 1, 2))
    for change in book.changes:
        apply_ledger_change(SqlUnitOfWork(migrated_engine), "t1", change)

    cut_portfolio(
        SqlUnitOfWork(migrated_engine),
        CutPortfolio(
            command_id="c1",
            tenant="t1",
            portfolio_id="P1",
            agreement_id=agreement.id,
            cutoff=date(2025, 6, 30),
        ),
    )
    close_portfolio(
        SqlUnitOfWork(migrated_engine),
        ClosePortfolio(command_id="c2", portfolio_id="P1", closing=date(2025, 7, 15)),
    )

    with SqlUnitOfWork(migrated_engine) as uow:
        portfolio = uow.portfolios.get("P1")
        assert portfolio is not None
        assert str(portfolio.total_price.amount) == "1500.00"
        assert uow.portfolios.unavailable("t1") == {"I0", "I1", "I2", "I3"}
        pending = uow.outbox.pending()
    assert [m.subject for m in pending] == [
        "ff.event.PortfolioCut",
        "ff.event.PortfolioClosed",
        "ff.event.JournalEntryRequested",
    ]
    closed = json.loads(pending[1].payload)
    assert closed["data"]["price"] == {"amount": "1500.00", "currency": "USD"}
    assert pending[1].event_id == "PortfolioClosed:P1:"
