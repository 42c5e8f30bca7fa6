"""OpenPGP for buyers: encrypt to the buyer's certificate and sign with the seller's key.

pysequoia streams the file (constant memory) and writes what gpg 2.2+ reads: v4 keys
(RFC 4880 profile), SEIPD v1 with MDC. Output is randomised, so a file is encrypted
once and its bytes reused on every retry.
"""

from __future__ import annotations

import os
from pathlib import Path

from pysequoia import Cert, Profile, Tsk, encrypt_file

__all__ = [
    "certificate_fingerprint",
    "encrypt_for_buyer",
    "ensure_seller_key",
    "seller_certificate",
    "seller_fingerprint",
]


def ensure_seller_key(path: Path, user_id: str) -> str:
    """The seller's signing key at ``path`` (generated, mode 0600, if absent); its fingerprint."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Tsk.generate(user_id, profile=Profile.RFC4880)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(str(key))
    return seller_fingerprint(path)


def seller_fingerprint(path: Path) -> str:
    """Fingerprint of the seller's key (upper-case hex)."""
    return str(Tsk.from_file(str(path)).extract_certificate().fingerprint).upper()


def seller_certificate(path: Path) -> str:
    """The seller's public certificate, armored: what a buyer imports to verify signatures."""
    return str(Tsk.from_file(str(path)).extract_certificate())


def certificate_fingerprint(path: Path) -> str:
    """Fingerprint of a buyer's certificate file (upper-case hex)."""
    return str(Cert.from_file(str(path)).fingerprint).upper()


def encrypt_for_buyer(
    plain: Path, out: Path, *, buyer: Path, seller: Path, armor: bool = False
) -> None:
    """Encrypt ``plain`` to the buyer's certificate, signed by the seller, into ``out``.

    Written to ``out.partial`` first and renamed, so ``out`` is never half a file.
    """
    partial = out.with_name(out.name + ".partial")
    encrypt_file(
        str(plain),
        str(partial),
        recipients=[Cert.from_file(str(buyer))],
        signer=Tsk.from_file(str(seller)).signer(),
        armor=armor,
    )
    partial.replace(out)
