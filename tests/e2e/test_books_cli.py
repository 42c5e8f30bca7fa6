"""Facts a controller sees from the command line: a portfolio not closed is not sold; the
reconciliation's loss, net proceeds and per-receivable age; put-back candidates; withdrawn
amounts on the statement; invoice numbers wherever a receivable is named; journal
entries not in the books named by ``status``."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from debtsale.agreement import sample_agreement_text
from forwardflow.store import SqlUnitOfWork, make_engine
from forwardflow.store.tables import platform_postings
from handlers.ledger import apply_ledger_change
from testkit.builders import LedgerBuilder
from tests.e2e.test_cli import run
from tests.e2e.test_portfolio_cli import CUT_P1, _seed


def _after_the_close(folder: Path) -> None:
    """Payments after the close, as the platform would send them."""
    engine = make_engine(f"sqlite:///{folder / '.forwardflow' / 'forwardflow.db'}")
    book = LedgerBuilder(tenant="realm-1")
    book.pay("P-after", "C4", date(2025, 8, 10), {"I4": "300.00"})
    book.pay("P-void", "C1", date(2025, 8, 11), {"I1": "120.00"})
    book.void_payment("P-void")
    # dated before the cut-off, recorded only after the close: paid before sale
    book.pay("P-early", "C2", date(2025, 6, 20), {"I2": "250.00"}, recorded_on=date(2025, 8, 12))
    for change in book.changes:
        apply_ledger_change(SqlUnitOfWork(engine), "realm-1", change)
    engine.dispose()


def test_what_a_controller_sees_before_and_after_the_close(tmp_path: Path) -> None:
    _seed(tmp_path)
    text = sample_agreement_text().replace("cap_percent = 10", "cap_percent = 50")
    (tmp_path / "agreement.toml").write_text(text)
    assert run("agreement", "add", "agreement.toml", cwd=tmp_path).returncode == 0
    assert run(*CUT_P1, cwd=tmp_path).returncode == 0

    before = run("portfolio", "reconcile", "P1", cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert "sold" not in before.stdout
    assert "receivables in portfolio / removed" in before.stdout
    data = json.loads(run("portfolio", "reconcile", "P1", "--json", cwd=tmp_path).stdout)
    assert (data["sold"], data["in_portfolio"], data["loss_on_sale"]) == (0, 6, None)

    removed = run(
        *("portfolio", "remove", "P1", "INV-I5", "--reason", "settlement"), cwd=tmp_path
    )  # the invoice number the controller sees, not the platform id
    assert removed.returncode == 0, removed.stderr
    assert "receivable I5 removed" in removed.stdout
    closed = run("portfolio", "close", "P1", "--closing", "2025-07-15", cwd=tmp_path)
    assert closed.returncode == 0, closed.stderr
    assert "loss on sale" in closed.stdout
    assert "net proceeds" in closed.stdout

    report = json.loads(run("portfolio", "reconcile", "P1", "--json", cwd=tmp_path).stdout)
    assert report["sold"] == 5
    face, price = (Decimal(report[k]["amount"]) for k in ("final_face", "price"))
    assert Decimal(report["loss_on_sale"]["amount"]) == face - price == Decimal("3918.50")
    assert report["net_proceeds"]["amount"] == report["price"]["amount"]
    first = report["lines"][0]
    assert (first["days_past_due"], first["age_bucket"], first["rate"]) == (149, "91-180", "0.15")
    table = run("portfolio", "reconcile", "P1", cwd=tmp_path).stdout
    assert "91-180" in table
    assert "15.0 %" in table

    _after_the_close(tmp_path)
    candidates = json.loads(run("portfolio", "candidates", "P1", "--json", cwd=tmp_path).stdout)
    assert [
        (c["receivable_id"], c["reason"], c["amount"]["amount"]) for c in candidates["candidates"]
    ] == [("I2", "paid_before_sale", "250.00")]
    flagged = run(
        *("receivable", "flag", "INV-I3", "--tenant", "realm-1", "--reason", "bankruptcy"),
        *("--since", "2025-07-01"),
        cwd=tmp_path,
    )
    assert flagged.returncode == 0, flagged.stderr
    assert "receivable I3 flagged" in flagged.stdout
    shown = run("portfolio", "candidates", "P1", cwd=tmp_path).stdout
    assert "paid_before_sale" in shown
    assert "bankruptcy" in shown

    requested = run(
        *("putback", "request", "P1", "INV-I2", "--reason", "paid_before_sale"),
        *("--fact-date", "2025-06-20", "--requested-on", "2025-08-20", "--id", "R1"),
        cwd=tmp_path,
    )
    assert requested.returncode == 0, requested.stderr
    assert "R1 (I2): pending" in requested.stdout

    statement = json.loads(
        run("remittance", "statement", "P1", "--as-of", "2025-09-30", "--json", cwd=tmp_path).stdout
    )
    assert statement["outstanding"]["amount"] == "300.00"
    assert [(w["source"], w["amount"]["amount"]) for w in statement["withdrawn"]] == [
        ("payment:P-void", "120.00")
    ]
    assert (
        "withdrawn"
        in run("remittance", "statement", "P1", "--as-of", "2025-09-30", cwd=tmp_path).stdout
    )


def test_status_names_a_journal_entry_that_could_not_be_posted(tmp_path: Path) -> None:
    assert run("db", "upgrade", cwd=tmp_path).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / '.forwardflow' / 'forwardflow.db'}")
    with engine.begin() as connection:
        connection.execute(
            insert(platform_postings).values(
                platform="quickbooks",
                company_id="4620816365",
                entry_id="putback:P1:R1",
                portfolio_id="P1",
                state="blocked",
                problem="QuickBooks refused to refresh the tokens: reconnect the company",
                attempts=1,
                entry={"entry_id": "putback:P1:R1", "portfolio_id": "P1"},
            )
        )
    engine.dispose()
    status = run("status", cwd=tmp_path)
    assert status.returncode == 1
    assert "journal entry putback:P1:R1 not posted" in status.stderr
    assert "reconnect the company" in status.stderr
