"""After the sale from the command line: put-backs, the buyer's statement, remittances, and
commands sent to a running service (``--via-service``) on its embedded broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import httpx

from debtsale.agreement import sample_agreement_text
from forwardflow.net import free_port
from forwardflow.store import SqlUnitOfWork, make_engine
from handlers.ledger import apply_ledger_change
from testkit.builders import LedgerBuilder
from tests.e2e.test_cli import FORWARDFLOW, run
from tests.e2e.test_portfolio_cli import CUT_P1, _seed


def _sold(folder: Path) -> None:
    _seed(folder)
    # a small sale: a 10 % cap would refuse any single refund
    text = sample_agreement_text().replace("cap_percent = 10", "cap_percent = 50")
    (folder / "agreement.toml").write_text(text)
    for args in (
        ("agreement", "add", "agreement.toml"),
        CUT_P1,
        ("portfolio", "close", "P1", "--closing", "2025-07-15"),
    ):
        done = run(*args, cwd=folder)
        assert done.returncode == 0, done.stderr


def test_putback_and_remittance_from_the_command_line(tmp_path: Path) -> None:
    _sold(tmp_path)
    requested = run(
        *("putback", "request", "P1", "I2", "--reason", "bankruptcy"),
        *("--fact-date", "2025-07-01", "--requested-on", "2025-08-01"),
        *("--evidence", "case_number=25-10001", "--id", "R1"),
        cwd=tmp_path,
    )
    assert requested.returncode == 0, requested.stderr
    assert "R1 (I2): pending" in requested.stdout
    no_evidence = run(
        *("putback", "request", "P1", "I3", "--reason", "bankruptcy"),
        *("--fact-date", "2025-07-01", "--requested-on", "2025-08-01", "--id", "R2"),
        cwd=tmp_path,
    )
    assert "rejected" in no_evidence.stdout
    assert "putback.evidence" in no_evidence.stdout
    decided = run(
        "putback", "decide", "P1", "R1", "--accept", "--decided-on", "2025-08-05", cwd=tmp_path
    )
    assert decided.returncode == 0, decided.stderr
    assert "accepted, refund 150.30 USD" in decided.stdout
    ledger = json.loads(run("putback", "list", "P1", "--json", cwd=tmp_path).stdout)
    assert [r["status"] for r in ledger["rows"]] == ["accepted", "rejected"]
    assert ledger["refunds"]["amount"] == "150.30"

    engine = make_engine(f"sqlite:///{tmp_path / '.forwardflow' / 'forwardflow.db'}")
    book = LedgerBuilder(tenant="realm-1")
    book.pay("P-after", "C4", date(2025, 8, 10), {"I4": "300.00"})
    apply_ledger_change(SqlUnitOfWork(engine), "realm-1", book.changes[-1])
    engine.dispose()
    statement = json.loads(
        run("remittance", "statement", "P1", "--as-of", "2025-09-30", "--json", cwd=tmp_path).stdout
    )
    assert statement["outstanding"]["amount"] == "300.00"
    too_much = run(
        "remittance", "record", "P1", "--amount", "300.01", "--paid-on", "2025-09-01", cwd=tmp_path
    )
    assert too_much.returncode == 1
    assert "exceeds" in too_much.stderr
    paid = run(
        "remittance", "record", "P1", "--amount", "300.00", "--paid-on", "2025-09-01", cwd=tmp_path
    )
    assert paid.returncode == 0, paid.stderr
    table = run("remittance", "statement", "P1", "--as-of", "2025-09-30", cwd=tmp_path).stdout
    assert "outstanding 0.00" in table


def test_commands_reach_a_running_service_and_wait_for_its_answer(tmp_path: Path) -> None:
    _seed(tmp_path)
    (tmp_path / "agreement.toml").write_text(sample_agreement_text())
    assert run("agreement", "add", "agreement.toml", cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")}
    port = free_port()
    env["FORWARDFLOW_HTTP__PORT"] = str(port)
    env["FORWARDFLOW_HEALTH__BOOKS_SECONDS"] = "0.5"  # the books' gauges, off the scrape path
    service = subprocess.Popen(
        [FORWARDFLOW, "run"],
        cwd=tmp_path,
        env=env,
        stdout=(tmp_path / "service.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while "forwardflow running" not in (tmp_path / "service.log").read_text():
            assert service.poll() is None, (tmp_path / "service.log").read_text()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json() == {"status": "alive"}
        assert httpx.get(f"{base}/readyz").status_code == 200
        cut = run(*CUT_P1, "--via-service", "--timeout", "30", cwd=tmp_path)
        assert cut.returncode == 0, cut.stderr
        assert "portfolio P1 cut: 6 receivables" in cut.stdout
        refused = run(
            *("portfolio", "close", "P1", "--closing", "2025-01-01", "--via-service"),
            cwd=tmp_path,
        )
        assert refused.returncode == 1
        assert "closing_after_cutoff" in refused.stderr
        books = time.monotonic() + 10  # recomputed by the scheduler part, not per scrape
        while 'forwardflow_receivables{state="in_portfolio"} 6.0' not in (
            metrics := httpx.get(f"{base}/metrics").text
        ):
            assert time.monotonic() < books, metrics
            time.sleep(0.2)
        assert "forwardflow_consumer_pending" in metrics
        assert "forwardflow_owed_to_buyers 0.0" in metrics
        assert "faststream_received_messages_total" in metrics
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
    log = (tmp_path / "service.log").read_text()
    assert "handled event_id=cli:cut:P1" in log
