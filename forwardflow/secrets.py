"""Secrets at rest (platform tokens): AES-256-GCM with the installation's key.

The key is ``secret_key`` from the settings; without one, a key is generated once into
``DATA_DIR/keys/secret.key`` (mode 0600) so embedded defaults work, and a warning says
to set a real one. Ciphertexts carry a version byte and a random nonce.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from forwardflow.settings import Settings

__all__ = ["SecretBox", "SecretUnreadableError", "derived_key", "installation_key", "secret_box"]

log = logging.getLogger("forwardflow.secrets")

_VERSION = b"\x01"


class SecretUnreadableError(Exception):
    """A stored secret does not open with this key (wrong key, or tampered)."""


class SecretBox:
    """Seal and open small secrets with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secret key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt, binding the ciphertext to ``context`` (e.g. the company it belongs to)."""
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        """Decrypt what ``seal`` made for the same context."""
        if sealed[:1] != _VERSION:
            raise SecretUnreadableError("unknown secret format")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], context.encode())
        except InvalidTag:
            raise SecretUnreadableError("the secret does not open with this key") from None


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / "keys" / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(base64.b64encode(os.urandom(32)))
        log.warning(
            "no secret_key is set: generated one in %s; set FORWARDFLOW_SECRET_KEY in production",
            path,
        )
    return base64.b64decode(path.read_bytes())


def installation_key(settings: Settings) -> bytes:
    """The configured ``secret_key``, else the generated key file's."""
    if settings.secret_key is not None:
        return base64.b64decode(settings.secret_key.get_secret_value())
    return _key_file(settings.data_dir)


def secret_box(settings: Settings) -> SecretBox:
    """The installation's box: the configured key, else the generated key file."""
    return SecretBox(installation_key(settings))


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for one purpose (signing connect links …), derived by HKDF-SHA256.

    One secret to keep, and no purpose's key tells anything about another's.
    """
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"forwardflow:{purpose}".encode()
    ).derive(installation_key(settings))
