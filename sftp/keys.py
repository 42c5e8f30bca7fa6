"""The SSH key forwardflow logs in to buyers with: generated once, private part 0600."""

from __future__ import annotations

import io
import os
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = ["SshKey", "ensure_ssh_key", "load_ssh_key", "new_ssh_key", "public_line"]

SshKey = paramiko.PKey
"""A private SSH key in memory (unsealed), as the connection logs in with it."""


def new_ssh_key() -> bytes:
    """A new Ed25519 private key in OpenSSH's format (unencrypted: the caller seals it)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())


def load_ssh_key(private: bytes) -> paramiko.PKey:
    """A paramiko key from OpenSSH private-key bytes held in memory."""
    text = private.decode("ascii")
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise paramiko.SSHException("not an OpenSSH private key forwardflow can use")


def public_line(private: bytes, comment: str = "forwardflow") -> str:
    """``ssh-ed25519 AAAA… comment``: what the buyer adds to its authorized keys."""
    key = load_ssh_key(private)
    return f"{key.get_name()} {key.get_base64()} {comment}"


def ensure_ssh_key(path: Path, comment: str = "forwardflow") -> str:
    """The public line (``ssh-ed25519 AAAA… comment``) of the key at ``path``, made if absent.

    The buyer adds this line to its authorized keys; ``path.pub`` holds it too.
    """
    public_path = path.with_name(path.name + ".pub")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private)
        public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
        public_path.write_text(f"{public.decode()} {comment}\n", encoding="utf-8")
    return public_path.read_text(encoding="utf-8").strip()
