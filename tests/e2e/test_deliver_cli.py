"""Delivery from the command line and by the running service, to a real sshd, read by gpg."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from debtsale.agreement import sample_agreement_text
from testkit.gpg import BuyerGpg
from testkit.sshd import LoopbackSshd
from tests.e2e.test_cli import FORWARDFLOW, run
from tests.e2e.test_portfolio_cli import CUT_P1, _seed

pytestmark = [pytest.mark.sshd, pytest.mark.gpg]


def _buyer(folder: Path, sshd: LoopbackSshd, buyer_gpg: BuyerGpg) -> None:
    """The agreement with the buyer's SFTP server and certificate; our key authorised there."""
    _seed(folder)
    fingerprint = buyer_gpg.generate_key("Acme Recovery <files@acme.test>")
    buyer_gpg.export_public(fingerprint, folder / ".forwardflow" / "acme.asc")
    (sshd.home / "incoming").mkdir()
    delivery = (
        "\n[delivery]\n"
        'host = "127.0.0.1"\n'
        f"port = {sshd.port}\n"
        f'username = "{sshd.user}"\n'
        f'host_key = "{sshd.pin}"\n'
        'buyer_certificate = "acme.asc"\n'
    )
    small_sale = sample_agreement_text().replace("cap_percent = 10", "cap_percent = 50")
    (folder / "agreement.toml").write_text(small_sale + delivery)
    assert run("agreement", "add", "agreement.toml", cwd=folder).returncode == 0
    shown = json.loads(run("buyer", "show", "acme-spot-2026", "--json", cwd=folder).stdout)
    assert shown["buyer_fingerprint"] == fingerprint
    assert shown["file_format"] == "SEIPD v1, binary: gpg 2.2/2.4 read it"
    buyer_gpg.import_key(Path(shown["seller_certificate"]).read_bytes())
    authorized = sshd.root / "authorized_keys"
    authorized.write_text(authorized.read_text() + shown["our_ssh_key"] + "\n")


def test_deliver_by_hand_then_again(
    tmp_path: Path, sshd: LoopbackSshd, buyer_gpg: BuyerGpg
) -> None:
    _buyer(tmp_path, sshd, buyer_gpg)
    for args in (CUT_P1, ("portfolio", "close", "P1", "--closing", "2025-07-15")):
        assert run(*args, cwd=tmp_path).returncode == 0
    delivered = run("deliver", "P1", cwd=tmp_path)
    assert delivered.returncode == 0, delivered.stderr
    assert "incoming/P1-2025-07-15.csv.pgp" in delivered.stdout
    again = run("deliver", "P1", cwd=tmp_path)
    assert "already_there" in again.stdout
    receipts = json.loads(run("deliveries", "--json", cwd=tmp_path).stdout)
    assert receipts[0]["status"] == "delivered"
    assert receipts[0]["attempts_total"] == 2
    plaintext, status = buyer_gpg.decrypt(sshd.home / "incoming" / "P1-2025-07-15.csv.pgp")
    assert plaintext.count(b"\r\n") == 7  # header + 6 receivables
    assert "DECRYPTION_OKAY" in status
    assert "GOODSIG" in status


def _wait_for(path: Path, service: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert service.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def test_the_service_delivers_on_close_and_answers_put_back_files(
    tmp_path: Path, sshd: LoopbackSshd, buyer_gpg: BuyerGpg
) -> None:
    _buyer(tmp_path, sshd, buyer_gpg)
    assert run(*CUT_P1, cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")}
    env["FORWARDFLOW_HTTP__PORT"] = "0"  # any free port: tests never collide on 8080
    env["FORWARDFLOW_DELIVERY__INBOX_POLL_SECONDS"] = "0.5"
    (sshd.home / "putbacks").mkdir()
    log = tmp_path / "service.log"
    service = subprocess.Popen(
        [FORWARDFLOW, "run"], cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    target = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp.manifest.json"
    try:
        closed = run("portfolio", "close", "P1", "--closing", "2025-07-15", cwd=tmp_path)
        assert closed.returncode == 0, closed.stderr
        _wait_for(target, service, log)
        (sshd.home / "putbacks" / "req-9.csv").write_text(
            "portfolio_id,receivable_id,reason,evidence_reference,request_date\r\n"
            "P1,I1,fraud,,2025-08-01\r\n"
        )
        _wait_for(sshd.home / "results" / "req-9.csv.result.csv", service, log)
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
    assert json.loads(target.read_text())["record_count"] == 6


def test_the_buyers_putback_files_are_applied_and_answered(
    tmp_path: Path, sshd: LoopbackSshd, buyer_gpg: BuyerGpg
) -> None:
    _buyer(tmp_path, sshd, buyer_gpg)
    for args in (CUT_P1, ("portfolio", "close", "P1", "--closing", "2025-07-15")):
        assert run(*args, cwd=tmp_path).returncode == 0
    inbound = sshd.home / "putbacks"
    inbound.mkdir()
    header = "portfolio_id,receivable_id,reason,evidence_reference,request_date,fact_date\r\n"
    (inbound / "req-001.csv").write_text(
        header
        + "P1,I1,bankruptcy,25-10001,2025-08-01,2025-07-01\r\n"
        + "P1,I9,dispute,,2025-08-01,2025-07-01\r\n"
    )
    (inbound / "req-002.csv").write_text(
        header + "P1,I2,fraud,,2025-08-01,2025-07-01\r\nP1,I3,fraud,,01/08/2025,\r\n"
    )
    done = run("buyer", "inbox", "acme-spot-2026", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = {r["name"]: r["rows"] for r in json.loads(done.stdout)}
    first = results["req-001.csv"]
    assert [(r["receivable_id"], r["status"]) for r in first] == [
        ("I1", "pending"),
        ("I9", "rejected"),
    ]
    assert results["req-001.csv"][1]["rule"] == "putback.receivable_sold"
    (problem,) = results["req-002.csv"]
    assert problem["line"] == "3"
    assert "request_date '01/08/2025' is not a date" in problem["detail"]
    answers = sshd.home / "results"
    assert "pending" in (answers / "req-001.csv.result.csv").read_text()
    assert "file.malformed" in (answers / "req-002.csv.result.csv").read_text()
    assert sorted(p.name for p in (inbound / "processed").iterdir()) == [
        "req-001.csv",
        "req-002.csv",
    ]
    again = run("buyer", "inbox", "acme-spot-2026", "--json", cwd=tmp_path)
    assert json.loads(again.stdout) == []
    putbacks = json.loads(run("putback", "list", "P1", "--json", cwd=tmp_path).stdout)
    assert [(r["receivable_id"], r["status"]) for r in putbacks["rows"]] == [("I1", "pending")]
    assert [(r["receivable_id"], r["rule"]) for r in putbacks["refused_lines"]] == [
        ("I9", "putback.receivable_sold")
    ]  # on record once each, though the inbox ran twice; the refusal outside the portfolio
