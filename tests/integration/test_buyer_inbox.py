"""The buyer's inbox, attacked and on a bad day, over a real sshd: no entry jams it, every
entry is answered and moved aside, nothing is overwritten, big files are quick."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from debtsale.agreement import sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.delivery import buyer_keys, delivery_terms
from forwardflow.inbound import MAX_FILE_BYTES, process_buyer_inbox, refused_lines
from forwardflow.settings import DatabaseSettings, load_settings
from forwardflow.store import upgrade
from handlers.ledger import apply_ledger_change
from handlers.registry import handle_command
from testkit.builders import LedgerBuilder
from testkit.sshd import LoopbackSshd

pytestmark = [pytest.mark.sshd]

HEADER = "portfolio_id,receivable_id,reason,evidence_reference,request_date,fact_date\r\n"
SOLD = 300


def _line(receivable: str, reason: str = "fraud", evidence: str = "") -> str:
    return f"P1,{receivable},{reason},{evidence},2025-08-01,2025-07-01\r\n"


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, sshd: LoopbackSshd) -> Iterator[Forwardflow]:
    app = bootstrap(
        load_settings(data_dir=tmp_path / "data", database=DatabaseSettings(url=sqlite_url))
    )
    upgrade(app.engine)
    book = LedgerBuilder(tenant="realm-1")
    for n in range(SOLD):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    for change in book.changes:
        apply_ledger_change(app.unit_of_work(), "realm-1", change)
    delivery = (
        "\n[delivery]\n"
        'host = "127.0.0.1"\n'
        f"port = {sshd.port}\n"
        f'username = "{sshd.user}"\n'
        f'host_key = "{sshd.pin}"\n'
        'buyer_certificate = "acme.asc"\n'
    )
    text = sample_agreement_text().replace("cap_percent = 10", "cap_percent = 100")
    with app.unit_of_work() as uow:
        agreement = uow.agreements.add(text + delivery)
        uow.commit()
    for command in (
        CutPortfolio(
            command_id="cut",
            tenant="realm-1",
            portfolio_id="P1",
            agreement_id=agreement.id,
            cutoff=date(2025, 6, 30),
        ),
        ClosePortfolio(command_id="close", portfolio_id="P1", closing=date(2025, 7, 15)),
    ):
        handle_command(app.unit_of_work(), command)
    keys = buyer_keys(app, delivery_terms(agreement))
    authorized = sshd.root / "authorized_keys"
    authorized.write_text(authorized.read_text() + keys.ssh_public + "\n")
    (sshd.home / "putbacks").mkdir()
    (sshd.home / "results").mkdir()
    yield app
    app.close()


def _inbox(sshd: LoopbackSshd) -> Path:
    return sshd.home / "putbacks"


def _answers(sshd: LoopbackSshd) -> dict[str, str]:
    folder = sshd.home / "results"
    return {p.name: p.read_text() for p in folder.glob("*.result.csv") if p.is_file()}


def _status(app: Forwardflow, receivable: str) -> list[str]:
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    return [
        r.decision.status.value
        for r in portfolio.putbacks.values()
        if r.request.receivable_id == receivable
    ]


def test_hostile_entries_are_each_answered_and_the_next_good_file_still_applied(
    app: Forwardflow, sshd: LoopbackSshd
) -> None:
    inbox = _inbox(sshd)
    first = HEADER + _line("I1")
    (inbox / "a-first.csv").write_text(first)
    assert [r.rows[0]["status"] for r in process_buyer_inbox(app, "acme-spot-2026")] == ["pending"]

    sidecar = sshd.home / "results" / "P1.csv.pgp.sha256"
    sidecar.write_text("abc  P1.csv.pgp\n")
    (inbox / "b-link.csv").symlink_to("../results/P1.csv.pgp.sha256")
    (inbox / "c-folder.csv").mkdir()
    (inbox / "d-same-bytes.csv").write_text(first)  # a duplicate under a new name
    (inbox / "e-big.csv").write_bytes(HEADER.encode() + b"x" * MAX_FILE_BYTES)
    (inbox / "f-field.csv").write_text(HEADER + _line("I2", evidence="y" * 140_000))
    refused_names = [
        "g spaced.csv",
        "h-ünïcode.csv",
        "-leading-dash.csv",
        "i..dots.csv",
        "j" * 246 + ".csv",
        "notes.txt",
    ]
    for name in refused_names:
        (inbox / name).write_text(HEADER + _line("I3"))
    (inbox / "k-upper.CSV").write_text(HEADER + _line("I4"))
    (inbox / "z-good.csv").write_text(HEADER + _line("I5"))

    results = process_buyer_inbox(app, "acme-spot-2026")

    assert len(results) == 7 + len(refused_names)  # every entry answered, in one run
    assert sorted(p.name for p in inbox.iterdir()) == ["processed"]  # nothing left to jam it
    by_name = {r.name: r for r in results}
    assert by_name["b-link.csv"].rows[0]["rule"] == "inbound.not_a_file"
    assert by_name["c-folder.csv"].rows[0]["rule"] == "inbound.not_a_file"
    assert by_name["d-same-bytes.csv"].repeated
    assert by_name["e-big.csv"].rows[0]["rule"] == "inbound.size"
    assert "over 1000 characters" in by_name["f-field.csv"].rows[0]["detail"]
    for name in refused_names:
        assert by_name[name].rows[0]["rule"] == "inbound.name"
    assert by_name["k-upper.CSV"].rows[0]["status"] == "pending"
    assert by_name["z-good.csv"].rows[0]["status"] == "pending"
    assert _status(app, "I5") == ["pending"]
    assert _status(app, "I1") == ["pending"]  # the duplicate filed nothing twice
    assert _status(app, "I3") == []
    assert sidecar.read_text() == "abc  P1.csv.pgp\n"  # the link moved, not its target
    assert (inbox / "processed" / "b-link.csv").is_symlink()
    answers = _answers(sshd)
    assert len(answers) == 1 + len(results)
    assert answers["d-same-bytes.csv.result.csv"] == answers["a-first.csv.result.csv"]
    assert all(r.answer.startswith("results/") for r in results)


def test_a_reused_name_is_answered_about_its_own_receivable_and_nothing_is_overwritten(
    app: Forwardflow, sshd: LoopbackSshd
) -> None:
    inbox = _inbox(sshd)
    (inbox / "req-a.csv").write_text(HEADER + _line("I1"))
    (first,) = process_buyer_inbox(app, "acme-spot-2026")
    (inbox / "req-a.csv").write_text(HEADER + _line("I2"))  # same name, another receivable
    (second,) = process_buyer_inbox(app, "acme-spot-2026")

    assert first.rows[0]["receivable_id"] == "I1"
    assert second.rows[0]["receivable_id"] == "I2"
    assert second.rows[0]["request_id"] != first.rows[0]["request_id"]
    assert _status(app, "I2") == ["pending"]
    processed = sorted(p.name for p in (inbox / "processed").iterdir())
    assert len(processed) == 2
    assert processed[0] == "req-a.csv"
    assert "I1" in (inbox / "processed" / "req-a.csv").read_text()
    answers = _answers(sshd)
    assert "I1" in answers["req-a.csv.result.csv"]
    assert sum("I2" in text for text in answers.values()) == 1


def test_result_files_never_hand_the_buyer_a_formula(app: Forwardflow, sshd: LoopbackSshd) -> None:
    inbox = _inbox(sshd)
    (inbox / "evil.csv").write_text(HEADER + "=1+1,@SUM(A1),+cmd,-2,2025-08-01,\r\n")
    (inbox / "evil2.csv").write_text(HEADER + _line('=HYPERLINK("http://x")'))
    process_buyer_inbox(app, "acme-spot-2026")
    for text in _answers(sshd).values():
        for cell in (c for row in text.splitlines()[1:] for c in row.split(",")):
            assert not cell.strip('"').startswith(("=", "+", "-", "@")), text


def test_rejected_lines_are_kept_outside_the_portfolio_document(
    app: Forwardflow, sshd: LoopbackSshd
) -> None:
    def document_size() -> int:
        with app.unit_of_work() as uow:
            return len(
                uow.connection.exec_driver_sql(
                    "SELECT document FROM portfolios WHERE id = 'P1'"
                ).scalar_one()
            )

    before = document_size()
    lines = "".join(_line(f"NOT-SOLD-{n}") for n in range(2000))
    (_inbox(sshd) / "junk.csv").write_text(HEADER + lines)
    (result,) = process_buyer_inbox(app, "acme-spot-2026")
    assert {r["rule"] for r in result.rows} == {"putback.receivable_sold"}
    assert document_size() == before
    refused = refused_lines(app, "P1")
    assert len(refused) == 2000
    assert refused[0]["receivable_id"] == "NOT-SOLD-0"


def test_a_10000_line_file_is_answered_in_seconds(app: Forwardflow, sshd: LoopbackSshd) -> None:
    receivables = iter([f"I{n % SOLD}" for n in range(10_000)])
    body = "".join(_line(next(receivables) if n % 3 else f"UNKNOWN-{n}") for n in range(10_000))
    (_inbox(sshd) / "big.csv").write_text(HEADER + body)
    began = time.monotonic()
    (result,) = process_buyer_inbox(app, "acme-spot-2026")
    took = time.monotonic() - began
    assert len(result.rows) == 10_000
    statuses = [r["status"] for r in result.rows]
    assert statuses.count("pending") == SOLD  # one open request per receivable, then refused
    assert all(r["receivable_id"] for r in result.rows)
    assert took < 30, f"took {took:.1f} s"
    print(f"10,000 lines answered in {took:.2f} s")


def test_documents_beside_a_request_are_kept_by_hash_and_a_missing_one_is_named(
    app: Forwardflow, sshd: LoopbackSshd
) -> None:
    import hashlib

    inbox = _inbox(sshd)
    (inbox / "documents").mkdir()
    (inbox / "documents" / "notice-I5.pdf").write_bytes(b"%PDF-1.4 court notice")
    header = HEADER.rstrip("\r\n") + ",buyer_collections,replacement_id,documents\r\n"
    (inbox / "with-docs.csv").write_text(
        header + "P1,I5,fraud,police report 77,2025-08-01,2025-07-01,12.50,,notice-I5.pdf\r\n"
    )
    (inbox / "missing-doc.csv").write_text(
        header + "P1,I6,fraud,,2025-08-01,2025-07-01,,,not-uploaded.pdf\r\n"
    )
    results = {r.name: r for r in process_buyer_inbox(app, "acme-spot-2026")}
    assert set(results) == {"missing-doc.csv", "with-docs.csv"}  # documents/ is no entry
    assert results["with-docs.csv"].rows[0]["status"] == "pending"
    refused = results["missing-doc.csv"]
    assert refused.rejected_whole
    assert refused.rows[0]["rule"] == "inbound.documents"
    assert "documents/not-uploaded.pdf" in refused.rows[0]["detail"]
    digest = hashlib.sha256(b"%PDF-1.4 court notice").hexdigest()
    kept = app.settings.data_dir / "inbound" / "acme-spot-2026" / "documents" / digest
    assert kept.read_bytes() == b"%PDF-1.4 court notice"
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    (record,) = [r for r in portfolio.putbacks.values() if r.request.receivable_id == "I5"]
    assert record.request.evidence["documents"] == f"documents/notice-I5.pdf sha256:{digest}"
    assert record.request.buyer_collections is not None
    assert str(record.request.buyer_collections.amount) == "12.50"
    assert (inbox / "documents" / "notice-I5.pdf").exists()  # the buyer's copy stays
