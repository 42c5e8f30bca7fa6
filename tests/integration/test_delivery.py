"""Sale files to a real OpenSSH sshd, opened by the real gpg, as a buyer would."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from debtsale.agreement import DeliveryTerms, OpenPgpProfile, UploadStrategy
from sftp.connection import SftpEndpoint
from sftp.deliver import (
    Prepared,
    Receipt,
    SaleFile,
    TotalsMismatchError,
    deliver,
    deliver_sale,
    prepare,
)
from sftp.openpgp import (
    EncryptionError,
    UnreadableForBuyerError,
    encrypting,
    ensure_seller_key,
    message_format,
    seller_certificate,
)
from testkit.buyer import frictionless_problems, open_sale, spreadsheet_formulas
from testkit.delivery import FakeDocuments, sample_sale
from testkit.gpg import BuyerGpg
from testkit.sshd import LoopbackSshd

pytestmark = [pytest.mark.sshd, pytest.mark.gpg]


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
    _, sale, _ = sample_sale()
    return prepare(sale, terms, tmp_path / "out", buyer_certificate=keys[0], seller_key=keys[1])


def test_the_buyer_decrypts_verifies_and_ties_out_the_delivered_file(
    tmp_path: Path, sshd: LoopbackSshd, buyer_gpg: BuyerGpg, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    source = FakeDocuments(without=frozenset({"I007"}))
    portfolio, sale, agreement = sample_sale(documents=source)
    prepared = prepare(sale, terms, tmp_path / "out", buyer_certificate=keys[0], seller_key=keys[1])
    receipt = deliver(prepared, terms, _endpoint(sshd, terms), portfolio_id="P1")
    assert receipt.status == "delivered", receipt.error
    base = "incoming/P1-2025-07-15"
    assert [f["remote_path"] for f in receipt.files] == [
        f"{base}.csv.pgp",
        f"{base}.csv.pgp.sha256",
        f"{base}.schema.json",
        f"{base}.documents.zip.pgp",
        f"{base}.bill-of-sale.pdf.pgp",
        f"{base}.bill-of-sale.pdf.sig",
        f"{base}.chain-of-title.json",
        f"{base}.chain-of-title.json.sig",
        f"{base}.csv.pgp.manifest.json.sig",
        f"{base}.csv.pgp.manifest.json",  # last: a buyer may wait for it
    ]
    incoming = sshd.home / "incoming"
    assert sorted(p.name for p in incoming.iterdir()) == sorted(
        Path(f["remote_path"]).name for f in receipt.files
    )  # no temporary file left behind

    buyer_gpg.import_key(seller_certificate(keys[1]).encode())
    opened = open_sale(buyer_gpg, incoming, "P1-2025-07-15.csv.pgp.manifest.json", tmp_path / "b")
    manifest, rows = opened.manifest, opened.rows
    assert frictionless_problems(opened.csv_path, opened.schema_path, manifest["dialect"]) == ""
    assert manifest["manifest_version"] == "2"
    assert manifest["layout_version"] == "2"
    assert manifest["columns"] == list(agreement.file.columns) == list(rows[0])
    assert manifest["seller"]["name"] == agreement.seller.name
    assert len(rows) == manifest["record_count"] == len(portfolio.sold_lines()) == 40
    assert sum(Decimal(r["face"]) for r in rows) == Decimal(manifest["total_face"])
    assert Decimal(manifest["total_face"]) == portfolio.total_face.amount
    assert sum(Decimal(r["price"]) for r in rows) == Decimal(manifest["total_price"])
    cipher = (incoming / "P1-2025-07-15.csv.pgp").read_bytes()
    sidecar = (incoming / "P1-2025-07-15.csv.pgp.sha256").read_text().split()[0]
    assert hashlib.sha256(cipher).hexdigest() == sidecar == manifest["ciphertext"]["sha256"]
    assert rows[0]["debtor_legal_name"] == "Debtor Ñandú 0"
    # the bill of sale states the same figures and names the file by its hash
    for figure in ("40", f"{portfolio.total_face.amount:,}", f"{portfolio.total_price.amount:,}"):
        assert figure.encode() in opened.bill_of_sale
    assert manifest["plaintext"]["sha256"].encode() in opened.bill_of_sale
    chain = opened.chain_of_title
    assert chain["sale_file"]["sha256"] == manifest["plaintext"]["sha256"]
    assert chain["transfers"][0]["to"]["name"] == agreement.buyer
    # documents: one per sold invoice the platform had, the missing one listed
    assert manifest["documents"]["missing"] == ["I007"]
    assert len(opened.documents) == 39
    assert opened.documents["invoices/I003.pdf"].startswith(b"%PDF")
    assert {r["document_files"] for r in rows if r["receivable_id"] == "I003"} == {
        "invoices/I003.pdf"
    }
    # a customer named like a formula reaches the buyer as text
    named = next(r for r in rows if r["customer_id"] == "C1")
    assert named["debtor_legal_name"] == '\'=HYPERLINK("http://x","y")'
    assert spreadsheet_formulas(opened.plaintext) == []


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
    _, sale, _ = sample_sale(count=20_000)  # a few MB: long enough to cut in the middle
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


def _streamed(
    tmp_path: Path,
    terms: DeliveryTerms,
    keys: tuple[Path, Path],
    sale: SaleFile,
    sshd: LoopbackSshd,
) -> tuple[Prepared, Receipt]:
    return deliver_sale(
        sale,
        terms,
        tmp_path / "out",
        _endpoint(sshd, terms),
        buyer_certificate=keys[0],
        seller_key=keys[1],
        backoff_s=0.1,
    )


def test_a_new_file_is_uploaded_while_it_is_built_and_published_once_checked(
    tmp_path: Path, sshd: LoopbackSshd, buyer_gpg: BuyerGpg, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    _, sale, _ = sample_sale(count=5_000)
    prepared, receipt = _streamed(tmp_path, terms, keys, sale, sshd)
    assert receipt.status == "delivered", receipt.error
    assert receipt.attempts == 1
    assert [f["outcome"] for f in receipt.files] == ["uploaded"] * 9
    incoming = sshd.home / "incoming"
    assert sorted(p.name for p in incoming.iterdir()) == sorted(
        Path(f["remote_path"]).name for f in receipt.files
    )
    cipher = (incoming / "P1-2025-07-15.csv.pgp").read_bytes()
    assert hashlib.sha256(cipher).hexdigest() == prepared.ciphertext.sha256
    buyer_gpg.import_key(seller_certificate(keys[1]).encode())
    plaintext, status = buyer_gpg.decrypt(incoming / "P1-2025-07-15.csv.pgp")
    assert "GOODSIG" in status
    assert plaintext.count(b"\r\n") == 5_001
    assert hashlib.sha256(plaintext).hexdigest() == prepared.plaintext_sha256
    assert not list((tmp_path / "out").glob("*.csv"))  # the plaintext never touched the disk
    again = _streamed(tmp_path, terms, keys, sale, sshd)[1]
    assert {f["outcome"] for f in again.files} == {"already_there"}


def test_a_stream_cut_off_falls_back_to_the_finished_file_and_resumes(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    _, sale, _ = sample_sale(count=20_000)
    partial = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp.part"

    def cut_the_line() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if partial.exists() and partial.stat().st_size > 500_000:
                sshd.kill_sessions()
                return
            time.sleep(0.001)

    killer = threading.Thread(target=cut_the_line)
    killer.start()
    prepared, receipt = _streamed(tmp_path, terms, keys, sale, sshd)
    killer.join()
    assert receipt.status == "delivered", receipt.error
    assert receipt.attempts == 2
    assert receipt.files[0]["outcome"] == "resumed"
    final = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp"
    assert hashlib.sha256(final.read_bytes()).hexdigest() == prepared.ciphertext.sha256


def test_a_file_that_does_not_tie_out_is_never_published_and_leaves_nothing(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    _, sale, _ = sample_sale(count=2_000)
    wrong = replace(sale, expected=replace(sale.expected, records=sale.expected.records + 1))
    with pytest.raises(TotalsMismatchError, match="2000 rows, reconciliation sold 2001"):
        _streamed(tmp_path, terms, keys, wrong, sshd)
    assert list((sshd.home / "incoming").iterdir()) == []  # the temporary file was removed
    assert list((tmp_path / "out").iterdir()) == []  # no ciphertext kept either


def test_a_temporary_file_of_another_ciphertext_is_overwritten_not_resumed(
    tmp_path: Path, sshd: LoopbackSshd, keys: tuple[Path, Path]
) -> None:
    terms = _terms(sshd, keys[0])
    prepared = _prepared(tmp_path, terms, keys)
    stale = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp.part"
    stale.write_bytes(b"bytes of an earlier encryption")  # shorter, but not our bytes
    receipt = deliver(prepared, terms, _endpoint(sshd, terms), portfolio_id="P1")
    assert receipt.status == "delivered", receipt.error
    assert receipt.files[0]["outcome"] == "uploaded"
    final = sshd.home / "incoming" / "P1-2025-07-15.csv.pgp"
    assert hashlib.sha256(final.read_bytes()).hexdigest() == prepared.ciphertext.sha256


def test_a_certificate_whose_files_gpg_cannot_read_is_refused(tmp_path: Path) -> None:
    from pysequoia import Profile, Tsk

    sequoia_made = tmp_path / "buyer.asc"
    key = Tsk.generate("Buyer <b@x.test>", profile=Profile.RFC4880)
    sequoia_made.write_text(str(key.extract_certificate()))
    seller = tmp_path / "seller.pgp"
    ensure_seller_key(seller, "Seller <s@x.test>")
    assert message_format(sequoia_made) == "SEIPD v2"
    _, sale, _ = sample_sale(count=3)
    terms = DeliveryTerms(
        host="127.0.0.1", username="u", host_key="SHA256:x", buyer_certificate=str(sequoia_made)
    )
    with pytest.raises(UnreadableForBuyerError, match=r"gpg 2\.2/2\.4 cannot decrypt"):
        prepare(sale, terms, tmp_path / "out", buyer_certificate=sequoia_made, seller_key=seller)
    assert not (tmp_path / "out" / "P1-2025-07-15.csv.pgp").exists()
    reads_v2 = terms.model_copy(update={"openpgp": OpenPgpProfile.RFC9580})
    _, sale, _ = sample_sale(count=3)
    made = prepare(
        sale, reads_v2, tmp_path / "out", buyer_certificate=sequoia_made, seller_key=seller
    )
    assert made.records == 3


def test_gpg_made_certificates_get_files_gpg_reads(keys: tuple[Path, Path]) -> None:
    assert message_format(keys[0]) == "SEIPD v1"


def test_the_encryptor_stops_and_leaves_nothing_when_the_build_fails(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    out = tmp_path / "file.pgp"

    def build_fails() -> None:
        with encrypting(out, buyer=keys[0], seller=keys[1]) as sink:
            sink.write(b"a,b\r\n")
            raise RuntimeError("database went away")

    def encryptor_fails() -> None:
        with encrypting(out, buyer=tmp_path / "missing.asc", seller=keys[1]) as sink:
            for _ in range(64):
                sink.write(b"x" * 65_536)

    with pytest.raises(RuntimeError, match="database went away"):
        build_fails()
    assert list(tmp_path.glob("file.pgp*")) == []
    with pytest.raises(EncryptionError, match="the encryptor stopped"):
        encryptor_fails()
    assert list(tmp_path.glob("file.pgp*")) == []
