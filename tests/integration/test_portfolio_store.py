"""Agreements, portfolios and their outbox events in SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select

from debtsale.agreement import sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio
from debtsale.errors import RuleViolation
from debtsale.salefile import minor_units, totals_of
from forwardflow.bootstrap import bootstrap
from forwardflow.delivery import recorded_sale_file
from forwardflow.settings import Settings
from forwardflow.store import SqlUnitOfWork, reading, upgrade
from forwardflow.store.salefiles import SqlSaleFileStore
from forwardflow.store.tables import sale_file_chunks, sale_files
from handlers.ledger import apply_ledger_change
from handlers.portfolio import close_portfolio, cut_portfolio
from testkit.builders import LedgerBuilder


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


def test_the_sale_file_is_recorded_with_the_close_and_streams_in_chunks(
    migrated_engine: Engine,
) -> None:
    with SqlUnitOfWork(migrated_engine) as uow:
        agreement = uow.agreements.add(sample_agreement_text())
        uow.commit()
    book = LedgerBuilder(tenant="t1")
    for n in range(2_500):  # three chunks: 1,000 + 1,000 + 500
        book.customer(f"C{n}", legal_name=f'Debtor "{n}", Ltd.')
        book.invoice(f"I{n:04}", f"C{n}", "100.10", invoice_date=date(2025, 1, 2))
    for change in book.changes:
        apply_ledger_change(SqlUnitOfWork(migrated_engine), "t1", change)
    cut = CutPortfolio(
        command_id="c1",
        tenant="t1",
        portfolio_id="P1",
        agreement_id=agreement.id,
        cutoff=date(2025, 6, 30),
    )
    cut_portfolio(SqlUnitOfWork(migrated_engine), cut)
    close = ClosePortfolio(command_id="c2", portfolio_id="P1", closing=date(2025, 7, 15))
    close_portfolio(SqlUnitOfWork(migrated_engine), close)

    with SqlUnitOfWork(migrated_engine) as uow:
        portfolio = uow.portfolios.get("P1")
        summary = uow.sale_files.summary("P1")
        assert portfolio is not None
        assert summary is not None
        assert summary.totals == totals_of(portfolio)
        assert uow.sale_files.counted("P1") == (
            len(portfolio.sold_lines()),
            minor_units(portfolio.total_face),
            minor_units(portfolio.total_price),
        )
        with pytest.raises(RuleViolation, match="has a sale file already"):
            uow.sale_files.record(summary, [])
    with reading(migrated_engine) as connection:
        chunks = list(SqlSaleFileStore(connection).chunks("P1"))
    assert [c.rows for c in chunks] == [1_000, 1_000, 500]
    rows = list(csv.reader(io.StringIO(b"".join(c.data for c in chunks).decode("utf-8"))))
    names = [row[summary.header.index("debtor_legal_name")] for row in rows]
    assert names[:2] == ['Debtor "0", Ltd.', 'Debtor "1", Ltd.']  # quoted and read back
    assert [row[summary.header.index("receivable_id")] for row in rows] == sorted(
        f"I{n:04}" for n in range(2_500)
    )


def test_a_long_read_does_not_hold_up_writers(migrated_engine: Engine) -> None:
    with reading(migrated_engine) as connection:
        connection.execute(select(func.count()).select_from(sale_files)).one()  # snapshot open
        began = time.monotonic()
        with SqlUnitOfWork(migrated_engine) as uow:
            uow.agreements.add(sample_agreement_text())
            uow.commit()
        assert time.monotonic() - began < 5  # not the 30 s busy timeout


def test_a_sale_closed_before_files_were_recorded_gets_its_file_on_delivery(
    db_url: str, tmp_path: Path
) -> None:
    app = bootstrap(Settings(data_dir=tmp_path, database={"url": db_url}))
    try:
        upgrade(app.engine)
        with app.unit_of_work() as uow:
            agreement = uow.agreements.add(sample_agreement_text())
            uow.commit()
        book = LedgerBuilder(tenant="t1")
        book.customer("C1")
        book.invoice("I1", "C1", "2500.00", invoice_date=date(2025, 1, 2))
        for change in book.changes:
            apply_ledger_change(app.unit_of_work(), "t1", change)
        cut_portfolio(
            app.unit_of_work(),
            CutPortfolio(
                command_id="c1",
                tenant="t1",
                portfolio_id="P1",
                agreement_id=agreement.id,
                cutoff=date(2025, 6, 30),
            ),
        )
        close = ClosePortfolio(command_id="c2", portfolio_id="P1", closing=date(2025, 7, 15))
        close_portfolio(app.unit_of_work(), close)
        with app.unit_of_work() as uow:
            recorded = uow.sale_files.summary("P1")
            uow.connection.execute(delete(sale_file_chunks))  # as on store revision 0006
            uow.connection.execute(delete(sale_files))
            uow.commit()
        assert recorded_sale_file(app, "P1") == recorded
        with app.unit_of_work() as uow:
            assert uow.sale_files.counted("P1") == (1, 250_000, 37_500)  # 15 % of 2,500.00
    finally:
        app.close()
