"""The demo's loopback SFTP buyer: the same client code delivers to it, confined to its folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from debtsale.agreement import DeliveryTerms, OpenPgpProfile
from emulators.sftp_buyer import LoopbackSftp
from sftp.connection import BuyerAuthError, SftpEndpoint, open_sftp
from sftp.deliver import deliver, prepare
from sftp.keys import ensure_ssh_key
from sftp.openpgp import ensure_seller_key
from testkit.delivery import sample_sale


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LoopbackSftp]:
    public = ensure_ssh_key(tmp_path / "client")
    with LoopbackSftp(tmp_path / "buyer", "acme", public) as server:
        (server.root / "incoming").mkdir()
        yield server


def _endpoint(server: LoopbackSftp, tmp_path: Path, key: str = "client") -> SftpEndpoint:
    return SftpEndpoint("127.0.0.1", server.port, "acme", server.pin, tmp_path / key)


def test_a_sale_file_is_delivered_atomically_and_idempotently(
    tmp_path: Path, server: LoopbackSftp
) -> None:
    from pysequoia import Profile, Tsk

    buyer = tmp_path / "buyer.asc"
    buyer.write_text(
        str(Tsk.generate("Buyer <b@x.test>", profile=Profile.RFC4880).extract_certificate())
    )
    seller = tmp_path / "seller.pgp"
    ensure_seller_key(seller, "Seller <s@x.test>")
    terms = DeliveryTerms(
        host="127.0.0.1",
        port=server.port,
        username="acme",
        host_key=server.pin,
        buyer_certificate=str(buyer),
        openpgp=OpenPgpProfile.RFC9580,  # a Sequoia key; this test does not decrypt
    )
    _, sale, _ = sample_sale()
    prepared = prepare(sale, terms, tmp_path / "out", buyer_certificate=buyer, seller_key=seller)
    first = deliver(prepared, terms, _endpoint(server, tmp_path), portfolio_id="P1")
    assert first.status == "delivered", first.error
    again = deliver(prepared, terms, _endpoint(server, tmp_path), portfolio_id="P1")
    assert {f["outcome"] for f in again.files} == {"already_there"}
    delivered = server.root / "incoming" / "P1-2025-07-15.csv.pgp"
    assert hashlib.sha256(delivered.read_bytes()).hexdigest() == prepared.ciphertext.sha256
    assert sorted(p.name for p in (server.root / "incoming").iterdir()) == sorted(
        f.path.name for f in prepared.in_order
    )  # the file, its sidecar, companions and manifest; no temporary file left


def test_paths_stay_inside_the_buyer_folder(tmp_path: Path, server: LoopbackSftp) -> None:
    (tmp_path / "secret.txt").write_text("not the buyer's")
    with open_sftp(_endpoint(server, tmp_path)) as client:
        with pytest.raises(PermissionError):
            client.open("../secret.txt", "rb")
        assert client.normalize("../..") == "/"
        assert client.listdir(".") == ["incoming"]


def test_only_the_authorised_key_logs_in(tmp_path: Path, server: LoopbackSftp) -> None:
    ensure_ssh_key(tmp_path / "stranger")
    with (
        pytest.raises(BuyerAuthError, match="refused key authentication"),
        open_sftp(_endpoint(server, tmp_path, "stranger")),
    ):
        pass
