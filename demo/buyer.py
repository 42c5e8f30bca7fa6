"""The demo's buyer: its OpenPGP key (made as a buyer would) and its agreement's delivery."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pysequoia import Profile, Tsk

from debtsale.agreement import sample_agreement_text
from emulators.sftp_buyer import LoopbackSftp
from sftp.openpgp import message_format

__all__ = ["agreement_with_delivery", "buyer_key"]


def agreement_with_delivery(sftp: LoopbackSftp, certificate: Path) -> str:
    """The sample agreement, delivering to the loopback buyer with its pinned host key."""
    # a Sequoia-made buyer key (no gpg here) gets RFC 9580 files, which gpg 2.2/2.4 refuse
    reads = "rfc4880" if message_format(certificate) == "SEIPD v1" else "rfc9580"
    return (
        sample_agreement_text()
        + "\n[delivery]\n"
        + 'host = "127.0.0.1"\n'
        + f"port = {sftp.port}\n"
        + 'username = "acme"\n'
        + f'host_key = "{sftp.pin}"\n'
        + 'buyer_certificate = "buyers/acme.asc"\n'
        + f'openpgp = "{reads}"\n'
        # the buyer gets each sold invoice's PDF in an encrypted archive beside the file
        + "\n[file]\ndocuments = true\n"
        + 'required = ["address_line1", "city", "region", "postal_code", "country"]\n'
    )


BUYER_UID = "Acme Recovery Partners <files@acme.example>"


def buyer_key(secret: Path, certificate: Path) -> str:
    """The demo buyer's key pair, made as a buyer would: with gpg, when it is installed.

    Buyers read files with gpg 2.2/2.4, which know SEIPD v1 only. Sequoia encrypts with
    SEIPD v2 to a certificate that advertises it, and every key Sequoia generates does;
    a gpg-made key advertises v1 only. Without gpg the demo uses a Sequoia key, whose
    files open with Sequoia (``sq``) or gpg 2.5+ (see docs/decisions.md).
    """
    gpg = shutil.which("gpg")
    if gpg is None:
        key = Tsk.generate(BUYER_UID, profile=Profile.RFC4880)
        secret.write_text(str(key), encoding="utf-8")
        certificate.write_text(str(key.extract_certificate()), encoding="utf-8")
        return "Sequoia (gpg is not installed)"
    home = secret.parent / ".gnupg"
    home.mkdir(mode=0o700)
    base = [gpg, "--homedir", str(home), "--batch", "--pinentry-mode", "loopback"]
    base += ["--passphrase", ""]
    subprocess.run(
        [*base, "--quick-generate-key", BUYER_UID, "rsa3072", "sign,encr", "never"],
        check=True,
        capture_output=True,
    )
    exported = subprocess.run(
        [*base, "--armor", "--export-secret-keys", BUYER_UID], check=True, capture_output=True
    )
    secret.write_bytes(exported.stdout)
    public = subprocess.run(
        [*base, "--armor", "--export", BUYER_UID], check=True, capture_output=True
    )
    certificate.write_bytes(public.stdout)
    subprocess.run(
        [shutil.which("gpgconf") or "gpgconf", "--homedir", str(home), "--kill", "all"],
        check=False,
        capture_output=True,
    )
    return "gpg"
