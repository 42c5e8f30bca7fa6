"""The controller's commands: agreement add, valuation, cut, close, show, reconcile."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from debtsale.agreement import sample_agreement_text
from forwardflow.store import SqlUnitOfWork, make_engine, upgrade
from handlers.ledger import apply_ledger_change
from testkit.builders import LedgerBuilder
from tests.e2e.test_cli import run

CUT_P1 = (
    "portfolio",
    "cut",
    "--agreement",
    "acme-spot-2026",
    "--cutoff",
    "2025-06-30",
    "--tenant",
    "realm-1",
    "--id",
    "P1",
)


def _seed(folder: Path) -> None:
    engine = make_engine(f"sqlite:///{folder / '.forwardflow' / 'forwardflow.db'}")
    upgrade(engine)
    book = LedgerBuilder(tenant="realm-1")
    for n in range(6):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", f"{1000 + n}.00", invoice_date=date(2025, 1, 2))
    book.pay("P-late", "C0", date(2025, 7, 5), {"I0": "400.00"})
    for change in book.changes:
        apply_ledger_change(SqlUnitOfWork(engine), "realm-1", change)
    engine.dispose()


def test_a_sale_from_the_command_line(tmp_path: Path) -> None:
    _seed(tmp_path)
    (tmp_path / "agreement.toml").write_text(sample_agreement_text())
    added = run("agreement", "add", "agreement.toml", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "acme-spot-2026 added" in added.stdout
    twice = run("agreement", "add", "agreement.toml", cwd=tmp_path)
    assert twice.returncode == 1
    assert "already exists" in twice.stderr
    listed = json.loads(run("agreement", "list", "--json", cwd=tmp_path).stdout)
    assert [a["id"] for a in listed] == ["acme-spot-2026"]

    valuation = json.loads(
        run(
            "portfolio",
            "valuation",
            "--agreement",
            "acme-spot-2026",
            "--as-of",
            "2025-06-30",
            "--tenant",
            "realm-1",
            "--json",
            cwd=tmp_path,
        ).stdout
    )
    assert sum(c["count"] for c in valuation["cohorts"]) == 6
    assert {c["completeness"]["principal"] for c in valuation["cohorts"]} == {"1.0000"}
    shown = run(
        "portfolio",
        "valuation",
        "--agreement",
        "acme-spot-2026",
        "--as-of",
        "2025-06-30",
        "--tenant",
        "realm-1",
        cwd=tmp_path,
    )
    assert "field completeness per cohort" in shown.stdout
    assert "last payment" in shown.stdout

    cut = run(*CUT_P1, cwd=tmp_path)
    assert cut.returncode == 0, cut.stderr
    assert "6 receivables" in cut.stdout
    again = run(*CUT_P1, cwd=tmp_path)
    assert "was already cut" in again.stdout

    closed = run("portfolio", "close", "P1", "--closing", "2025-07-15", cwd=tmp_path)
    assert closed.returncode == 0, closed.stderr
    assert "reconciliation of P1" in closed.stdout

    shown = json.loads(run("portfolio", "show", "P1", "--json", cwd=tmp_path).stdout)
    assert shown["status"] == "closed"
    assert shown["states"] == {"sold": 6}
    report = json.loads(
        run("portfolio", "reconcile", "P1", "--json", "--csv", "p1.csv", cwd=tmp_path).stdout
    )
    assert report["adjustments"]["amount"] == "-400.00"  # reduce_face: the late payment
    assert report["final_face"]["amount"] == "5615.00"
    rows = list(csv.reader((tmp_path / "p1.csv").open(encoding="utf-8")))
    assert Decimal(rows[-1][8]) == Decimal(report["price"]["amount"])

    early = run("portfolio", "close", "P-none", "--closing", "2025-07-15", cwd=tmp_path)
    assert early.returncode == 1
    assert "no portfolio P-none" in early.stderr
