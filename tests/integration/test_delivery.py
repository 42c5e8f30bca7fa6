"""Sale files to a real OpenSSH sshd, opened by the real gpg, as a buyer would."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from debtsale.agreement import Agreement, DeliveryTerms, UploadStrategy
from debtsale.portfolio import Portfolio
from debtsale.salefile import sale_file_header, sale_file_rows, totals_of
from debtsale.testing import LedgerBuilder, sample_agreement
from forwardflow.testing.gpg import BuyerGpg
from forwardflow.testing.sshd import LoopbackSshd
from sftp.connection import SftpEndpoint
from sftp.deliver import Prepared, SaleFile, deliver, prepare
from sftp.openpgp import ensure_seller_key, seller_certificate

pytestmark = [pytest.mark.sshd, pytest.mark.gpg]


def _sale(count: int = 40) -> tuple[Portfolio, SaleFile, Agreement]:
    book = LedgerBuilder(tenant="t1")
    for n in range(count):
        book.customer(f"C{n}", legal_name=f"Debtor Ñandú {n}")
        book.invoice(f"I{n:03}", f"C{n}", f"{1000 + n}.25", invoice_date=date(2025, 1, 2))
    agreement = sample_agreement()
    portfolio = Portfolio.cut("P1", agreement, book.ledger, date(2025, 6, 30))
    portfolio.close(agreement, book.ledger, date(2025, 7, 15))
    sale = SaleFile(
        portfolio_id="P1",
        agreement_id=agreement.id,
        cutoff=portfolio.cutoff,
        closing=date(2025, 7, 15),
        layout_version=agreement.file.version,
        header=sale_file_header(agreement),
        rows=sale_file_rows(portfolio, book.ledger, agreement),
        expected=totals_of(portfolio),
    )
    return portfolio, sale, agreement


@pytest.fixture
def keys(tmp_path: Path, buyer_gpg: BuyerGpg) -> tuple[Path, Path]:
    fingerprint = buyer_gpg.generate_key("Acme Recovery <files@acme.test>")
    buyer = buyer_gpg.export_public(fingerprint, tmp_path / "buyer.asc")
    seller = tmp_path / "seller.pgp"
    ensure_seller_key(seller, "Harbor & Pine <ar@harbor.test>")
    return buyer, seller


def _terms(sshd: LoopbackSshd, buyer: Path, **changes: object) -> DeliveryTerms:
    (sshd.home / "incoming").mkdir(exist_ok=True)
    return DeliveryTerms.model_validate(
        {
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.user,
            "host_key": sshd.pin,
            "buyer_certificate": str(buyer),
            **changes,
        }
    )


def _endpoint(sshd: LoopbackSshd, terms: DeliveryTerms, key: Path | None = None) -> SftpEndpoint:
    return SftpEndpoint(
        terms.host, terms.port, terms.username, terms.host_key, key or sshd.client_key
    )


def _prepared(tmp_path: Path, terms: DeliveryTerms, keys: tuple[Path, Path]) -> Prepared:
    _, sale, _ = _sale()
    return prepare(sale, terms, tmp_path / "out", buyer_certificate=keys[0], seller_key=keys[1])


def test_the_buyer_decrypts_verifies_and_ties_out_the_delivered_file(
    tmp_path: Path, sshd: LoopbackSshd, buyer_gpg: BuyerGpg, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    portfolio, sale, _ = _sale()
    prepared = prepare(sale, terms, tmp_path / "out", buyer_certificate=keys[0], seller_key=keys[1])
    receipt = deliver(prepared, terms, _endpoint(sshd, terms), portfolio_id="P1")
    assert receipt.status == "delivered", receipt.error
    assert [f["remote_path"] for f in receipt.files] == [
        "incoming/P1-2025-07-15.csv.pgp",
        "incoming/P1-2025-07-15.csv.pgp.sha256",
        "incoming/P1-2025-07-15.csv.pgp.manifest.json",
    ]
    incoming = sshd.home / "incoming"
    assert sorted(p.name for p in incoming.iterdir()) == sorted(
        Path(f["remote_path"]).name for f in receipt.files
    )  # no temporary file left behind

    buyer_gpg.import_key(seller_certificate(keys[1]).encode())
    plaintext, status = buyer_gpg.decrypt(incoming / "P1-2025-07-15.csv.pgp")
    assert "GOODSIG" in status
    assert "DECRYPTION_OKAY" in status
    manifest = json.loads((incoming / "P1-2025-07-15.csv.pgp.manifest.json").read_text())
    rows = list(csv.DictReader(io.StringIO(plaintext.decode("utf-8"))))
    assert len(rows) == manifest["record_count"] == len(portfolio.sold_lines()) == 40
    assert sum(Decimal(r["face"]) for r in rows) == Decimal(manifest["total_face"])
    assert Decimal(manifest["total_face"]) == portfolio.total_face.amount
    assert sum(Decimal(r["price"]) for r in rows) == Decimal(manifest["total_price"])
    assert hashlib.sha256(plaintext).hexdigest() == manifest["plaintext"]["sha256"]
    cipher = (incoming / "P1-2025-07-15.csv.pgp").read_bytes()
    sidecar = (incoming / "P1-2025-07-15.csv.pgp.sha256").read_text().split()[0]
    assert hashlib.sha256(cipher).hexdigest() == sidecar == manifest["ciphertext"]["sha256"]
    assert rows[0]["debtor_legal_name"] == "Debtor Ñandú 0"
    assert list(rows[0]) == list(sample_agreement().file.columns)


def test_a_wrong_host_key_is_refused_before_anything_is_sent(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    impostor = "SHA256:" + "A" * 43
    terms = _terms(sshd, keys[0], host_key=impostor)
    receipt = deliver(
        _prepared(tmp_path, terms, keys), terms, _endpoint(sshd, terms), portfolio_id="P1"
    )
    assert receipt.status == "failed"
    assert receipt.attempts == 1
    assert f"expected {impostor}, offered SHA256:" in receipt.error
    assert list((sshd.home / "incoming").iterdir()) == []


def test_a_key_the_buyer_does_not_know_is_a_clear_auth_error(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    import subprocess

    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    terms = _terms(sshd, keys[0])
    receipt = deliver(
        _prepared(tmp_path, terms, keys), terms, _endpoint(sshd, terms, stranger), portfolio_id="P1"
    )
    assert receipt.status == "failed"
    assert "refused key authentication" in receipt.error
    assert receipt.attempts == 1


def test_delivering_twice_is_one_file_and_a_different_file_is_never_overwritten(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    prepared = _prepared(tmp_path, terms, keys)
    first = deliver(prepared, terms, _endpoint(sshd, terms), portfolio_id="P1")
    again = deliver(
        _prepared(tmp_path, terms, keys), terms, _endpoint(sshd, terms), portfolio_id="P1"
    )
    assert first.status == again.status == "delivered"
    assert {f["outcome"] for f in again.files} == {"already_there"}
    target = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp"
    target.write_bytes(b"someone else's file")
    clash = deliver(prepared, terms, _endpoint(sshd, terms), portfolio_id="P1")
    assert clash.status == "failed"
    assert "was not overwritten" in clash.error
    assert target.read_bytes() == b"someone else's file"


def test_a_connection_killed_mid_upload_resumes_and_completes(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    _, sale, _ = _sale(count=20_000)  # a few MB: long enough to cut in the middle
    prepared = prepare(sale, terms, tmp_path / "out", buyer_certificate=keys[0], seller_key=keys[1])
    partial = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp.part"
    final = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp"
    seen_final_early: list[bool] = []

    def cut_the_line() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if partial.exists() and partial.stat().st_size > prepared.ciphertext.size // 3:
                seen_final_early.append(final.exists())
                sshd.kill_sessions()
                return
            time.sleep(0.001)

    killer = threading.Thread(target=cut_the_line)
    killer.start()
    receipt = deliver(prepared, terms, _endpoint(sshd, terms), portfolio_id="P1", backoff_s=0.1)
    killer.join()
    assert seen_final_early == [False]  # nothing at the final name while it was partial
    assert receipt.status == "delivered", receipt.error
    assert receipt.attempts == 2
    assert receipt.files[0]["outcome"] == "resumed"
    assert hashlib.sha256(final.read_bytes()).hexdigest() == prepared.ciphertext.sha256


def test_direct_plus_done_file_strategy(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    terms = _terms(
        sshd, keys[0], strategy=UploadStrategy.DIRECT_PLUS_DONE_FILE.value, manifest_first=True
    )
    receipt = deliver(
        _prepared(tmp_path, terms, keys), terms, _endpoint(sshd, terms), portfolio_id="P1"
    )
    assert receipt.status == "delivered", receipt.error
    assert receipt.files[0]["remote_path"].endswith(".manifest.json")
    assert (sshd.home / "incoming" / "P1-2025-07-15.csv.pgp.done").exists()
