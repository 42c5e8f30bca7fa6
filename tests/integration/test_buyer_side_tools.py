"""The buyer's side used by delivery tests: a real sshd serving SFTP, and real gpg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testkit.gpg import BuyerGpg
from testkit.sshd import LoopbackSshd


@pytest.mark.sshd
def test_sshd_serves_sftp_to_the_authorised_key_only(sshd: LoopbackSshd, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_public_key}\n")
    payload = tmp_path / "hello.txt"
    payload.write_text("hello buyer\n")
    target = tmp_path / "inbox"
    target.mkdir()
    batch = tmp_path / "batch"
    batch.write_text(f"put {payload} {target / 'hello.txt'}\n")
    common = [
        "-b",
        str(batch),
        "-P",
        str(sshd.port),
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
    ]
    ok = subprocess.run(
        ["sftp", "-i", str(sshd.client_key), *common, f"{sshd.user}@127.0.0.1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    assert (target / "hello.txt").read_text() == "hello buyer\n"

    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    refused = subprocess.run(
        ["sftp", "-i", str(stranger), *common, f"{sshd.user}@127.0.0.1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert refused.returncode != 0
    assert "Permission denied" in refused.stderr


@pytest.mark.gpg
def test_gpg_decrypts_what_it_was_given_for_the_buyer(buyer_gpg: BuyerGpg, tmp_path: Path) -> None:
    fingerprint = buyer_gpg.generate_key("Buyer <buyer@example.test>")
    plain = tmp_path / "sale.csv"
    plain.write_text("invoice,face\nINV-1,100.00\n")
    buyer_gpg.run(
        "--trust-model",
        "always",
        "--recipient",
        fingerprint,
        "--output",
        str(tmp_path / "sale.csv.pgp"),
        "--encrypt",
        str(plain),
    )
    data, status = buyer_gpg.decrypt(tmp_path / "sale.csv.pgp")
    assert data == plain.read_bytes()
    assert "DECRYPTION_OKAY" in status
