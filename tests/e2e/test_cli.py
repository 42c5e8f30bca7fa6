"""The ``forwardflow`` command as a user runs it: the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FORWARDFLOW = shutil.which("forwardflow", path=str(Path(sys.executable).parent))


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    assert FORWARDFLOW, "the forwardflow console script is not installed in this environment"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")}
    environment.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [FORWARDFLOW, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_lists_every_command_with_a_description(tmp_path: Path) -> None:
    from forwardflow.cli.app import app

    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert {"config", "db", "status", "demo", "run", "dlq", "version"} <= set(names)
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in names:
        line = next((ln for ln in result.stdout.splitlines() if f" {name} " in ln), "")
        description = line.split(f" {name} ", 1)[-1].strip(" │")
        assert len(description) > 10, f"{name!r} has no description in:\n{result.stdout}"


def test_version(tmp_path: Path) -> None:
    result = run("version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("forwardflow ")


def test_config_show_masks_secrets_and_names_sources(tmp_path: Path) -> None:
    (tmp_path / "forwardflow.toml").write_text("[http]\nport = 9000\n")
    result = run(
        "config",
        "show",
        "--json",
        cwd=tmp_path,
        env={
            "FORWARDFLOW_QUICKBOOKS__VERIFIER_TOKEN": "do-not-print-me",
            "FORWARDFLOW_DATABASE__URL": "postgresql+psycopg://ff:pg-s3cret@db/ff",
        },
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["http.port"] == {"value": "9000", "source": "file"}
    assert shown["quickbooks.verifier_token"]["source"] == "env"
    assert "do-not-print-me" not in result.stdout
    assert "pg-s3cret" not in result.stdout


def test_an_invalid_setting_stops_the_command_with_its_name(tmp_path: Path) -> None:
    result = run("config", "show", cwd=tmp_path, env={"FORWARDFLOW_HTTP__PORT": "eighty"})
    assert result.returncode == 2
    assert "http.port" in result.stderr
    assert "FORWARDFLOW_HTTP__PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_creates_the_sqlite_store_in_the_data_dir(tmp_path: Path) -> None:
    result = run("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "upgraded (empty)" in result.stdout
    assert (tmp_path / ".forwardflow" / "forwardflow.db").exists()
    again = run("db", "upgrade", cwd=tmp_path)
    assert "already at revision" in again.stdout
    current = run("db", "current", cwd=tmp_path)
    assert "up to date" in current.stdout


@pytest.mark.postgres
def test_db_upgrade_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    result = run("db", "upgrade", cwd=tmp_path, env={"FORWARDFLOW_DATABASE__URL": pg_url})
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout


@pytest.mark.nats
def test_status_reports_store_and_the_running_services_embedded_broker(tmp_path: Path) -> None:
    import signal
    import time

    from forwardflow.net import free_port

    run("db", "upgrade", cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")}
    env["FORWARDFLOW_HTTP__PORT"] = str(free_port())
    log = tmp_path / "service.log"
    service = subprocess.Popen(
        [FORWARDFLOW, "run"], cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while "forwardflow running" not in log.read_text():
            assert service.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        state = json.loads((tmp_path / ".forwardflow" / "nats" / "server.json").read_text())
        result = run("status", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "embedded nats-server" in result.stdout
        assert "FF_LEDGER" in result.stdout
        assert "up to date" in result.stdout
        assert str(state["pid"]) in result.stdout  # the service's server, joined
        document = json.loads(run("status", "--json", cwd=tmp_path).stdout)
        consumers = {c["consumer"]: c for c in document["consumers"]}
        assert consumers, document
        for consumer in consumers.values():
            assert {"pending", "ack_pending", "redelivered", "dead_letters"} <= set(consumer)
            assert "oldest_unacked_age_seconds" in consumer
        assert document["platform_companies"] == []
        assert document["buyers"] == []
        assert document["store"]["up_to_date"] is True
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0


def test_status_never_starts_a_broker_of_its_own(tmp_path: Path) -> None:
    run("db", "upgrade", cwd=tmp_path)
    result = run("status", cwd=tmp_path)
    assert result.returncode == 1
    assert "broker not running" in result.stderr
    assert "up to date" in result.stdout  # the store is still reported
    assert not (tmp_path / ".forwardflow" / "nats" / "nats-server.log").exists()  # none ran


def _told_the_story(tmp_path: Path, *args: str, title: str) -> None:
    """``forwardflow demo`` ran to the end in time and said every step."""
    import time

    began = time.monotonic()
    result = run("demo", "--workdir", "work", *args, cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - began < 120
    for words in (
        f"{title} emulator seeded",
        "embedded NATS JetStream started",
        "connected through OAuth",
        "backfill",
        "valuation as of",
        "delivered over SFTP",
        "put-back file answered",
        f"journal entries posted to {title}",
        "its aging lists none of them",
        "reconciliation of",
    ):
        assert words in result.stdout


def _the_buyer_opens_the_sale(tmp_path: Path, platform: str) -> None:
    """As the README's buyer section says: verify, decrypt file, archive and bill, validate;
    rows and totals tie to the manifest, the bill and the reconciliation."""
    import csv
    from decimal import Decimal

    from testkit.buyer import frictionless_problems, open_sale, spreadsheet_formulas
    from testkit.gpg import BuyerGpg

    summary = json.loads((tmp_path / "work" / "demo-summary.json").read_text())
    assert summary["embedded_broker_stopped"] is True
    files, figures = summary["files"], summary["figures"]
    gpg = BuyerGpg(tmp_path / "gnupg")
    gpg.import_key(Path(files["buyer_secret_key"]).read_bytes())
    gpg.import_key(Path(files["seller_certificate"]).read_bytes())
    opened = open_sale(
        gpg,
        Path(files["delivered_folder"]),
        Path(files["manifest"]).name,
        tmp_path / "buyer-opened",
    )
    manifest, rows = opened.manifest, opened.rows
    assert manifest["layout_version"] == "2"
    assert manifest["columns"] == list(rows[0])
    assert frictionless_problems(opened.csv_path, opened.schema_path, manifest["dialect"]) == ""
    assert len(rows) == manifest["record_count"] == figures["receivables_sold"] > 500
    face = sum(Decimal(r["face"]) for r in rows)
    price = sum(Decimal(r["price"]) for r in rows)
    assert face == Decimal(manifest["total_face"]) == Decimal(figures["total_face"])
    assert price == Decimal(manifest["total_price"]) == Decimal(figures["total_price"])
    for figure in (f"{len(rows):,}", f"{face:,}", f"{price:,}", manifest["plaintext"]["sha256"]):
        assert figure.encode() in opened.bill_of_sale  # the bill states what the file holds
    assert len(opened.documents) == len(rows)  # an invoice PDF per sold receivable
    assert {r["document_files"] for r in rows} == set(opened.documents)
    assert spreadsheet_formulas(opened.plaintext) == []
    with Path(files["reconciliation_csv"]).open(encoding="utf-8") as handle:
        totals = list(csv.reader(handle))
    assert Decimal(dict(zip(totals[0], totals[-1], strict=True))["final_face"]) == face
    assert Decimal(figures["refunds"]) > 0
    assert figures["platform"] == platform
    assert figures[f"invoices_closed_in_{platform}"] == figures["receivables_sold"]
    assert figures["invoices_closed_in_books"] == figures["receivables_sold"]
    posted = json.loads(Path(files["journal_entries"]).read_text())
    assert len(posted) >= 2
    _no_personal_data_in(Path(files["log"]))


@pytest.mark.gpg
def test_demo_exits_zero_and_the_buyer_can_open_what_it_delivered(tmp_path: Path) -> None:
    for _ in range(2):  # running it twice works: the work directory is cleared
        _told_the_story(tmp_path, title="QuickBooks")
    _the_buyer_opens_the_sale(tmp_path, "quickbooks")


@pytest.mark.gpg
def test_the_demo_on_xero_tells_the_same_story(tmp_path: Path) -> None:
    """`forwardflow demo --platform xero`: the whole story on the Xero emulator."""
    _told_the_story(tmp_path, "--platform", "xero", title="Xero")
    _the_buyer_opens_the_sale(tmp_path, "xero")


def _no_personal_data_in(log: Path) -> None:
    """The demo's debtors' names, e-mails, addresses and any token never reach the log."""
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any("handled event_id=" in line["message"] for line in lines)  # it did log
    for word in (
        "LLC",
        "Holdings",
        "@example.com",
        "Elm St",
        "Springfield",
        "Red Rock",
        "access_token",
        "refresh_token",
        "emulator-secret",
        "BEGIN PGP",
    ):
        assert word not in text, f"{word!r} appears in the log"


def test_demo_refuses_to_clear_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.txt").write_text("keep me")
    result = run("demo", "--workdir", "precious", cwd=tmp_path)
    assert result.returncode == 1
    assert "not made by the demo" in result.stderr
    assert (tmp_path / "precious" / "thesis.txt").exists()


def test_a_mistyped_environment_variable_stops_the_service_naming_it(tmp_path: Path) -> None:
    result = run("run", cwd=tmp_path, env={"FORWARDFLOW_HTP__PORT": "1"}, timeout=60)
    assert result.returncode == 2
    assert "FORWARDFLOW_HTP__PORT" in result.stderr
    assert "FORWARDFLOW_HTTP__PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_refuses_connections_is_one_line_naming_the_host(
    tmp_path: Path,
) -> None:
    from forwardflow.net import free_port

    url = f"postgresql+psycopg://ff@127.0.0.1:{free_port()}/ff"
    result = run("db", "upgrade", cwd=tmp_path, env={"FORWARDFLOW_DATABASE__URL": url})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "database unusable" in line
    assert "127.0.0.1" in line


def test_db_wait_holds_a_role_until_the_schema_is_at_its_head(tmp_path: Path) -> None:
    waited = run("db", "wait", "--timeout", "0", cwd=tmp_path)
    assert waited.returncode == 1  # an empty store: not yet migrated
    assert "not" in waited.stdout
    run("db", "upgrade", cwd=tmp_path)
    ready = run("db", "wait", "--timeout", "5", cwd=tmp_path)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "ready" in ready.stdout


def test_production_on_sample_settings_is_refused_loudly_at_start(tmp_path: Path) -> None:
    env = {  # PostgreSQL (never reached: the refusal comes first) and QuickBooks production
        "FORWARDFLOW_DATABASE__URL": "postgresql+psycopg://nobody@127.0.0.1:1/forwardflow",
        "FORWARDFLOW_QUICKBOOKS__ENVIRONMENT": "production",
        "FORWARDFLOW_QUICKBOOKS__REDIRECT_URI": "https://ff.example.com/callback/quickbooks",
    }
    refused = run("run", "--role", "relay", cwd=tmp_path, env=env, timeout=30)
    assert refused.returncode == 2
    assert "refusing to run production on sample settings" in refused.stderr
    assert "FORWARDFLOW_QUICKBOOKS__ACCOUNTS" in refused.stderr
    assert "REDIRECT_URI" not in refused.stderr  # set: not the sample
