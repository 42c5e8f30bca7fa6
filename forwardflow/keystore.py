"""Secret keys at rest: the seller's OpenPGP key and the SSH key, sealed with ``secret_key``.

A key file forwardflow makes is written sealed (AES-256-GCM under the installation key,
bound to what the key is for), mode 0600, and unsealed only in memory when a delivery
or an inbox run needs it; the encryptor child gets it through a pipe. A copy of the
data directory without the secret key holds no usable key.

Key files made by an earlier version (plain, 0600) in the data directory are sealed in
place the first time they are used. A key an operator configured at another path is
used as it is, with a warning if it is not sealed: forwardflow does not rewrite files
it does not own (seal it with ``forwardflow keys seal PATH --for seller|ssh``).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from pathlib import Path

from forwardflow.secrets import SecretBox, SecretUnreadableError, secret_box
from forwardflow.settings import Settings

__all__ = ["SEALED_MAGIC", "KeyUnreadableError", "is_sealed", "seal_file", "sealed_key"]

log = logging.getLogger("forwardflow.keystore")

SEALED_MAGIC = b"forwardflow-sealed-key v1\n"
_warned: set[Path] = set()


class KeyUnreadableError(Exception):
    """A sealed key does not open with this installation's secret key."""


def is_sealed(data: bytes) -> bool:
    """True for a key file forwardflow sealed."""
    return data.startswith(SEALED_MAGIC)


def _context(purpose: str) -> str:
    return f"key:{purpose}"


def _seal(box: SecretBox, plain: bytes, purpose: str) -> bytes:
    return SEALED_MAGIC + base64.b64encode(box.seal(plain, _context(purpose))) + b"\n"


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def seal_file(settings: Settings, path: Path, purpose: str) -> bool:
    """Seal a plain key file in place; False when it was sealed already."""
    data = path.read_bytes()
    if is_sealed(data):
        return False
    _write_private(path, _seal(secret_box(settings), data, purpose))
    return True


def _owned(settings: Settings, path: Path) -> bool:
    """Whether the file lives in forwardflow's own key folder (so it may be rewritten)."""
    keys = (settings.data_dir / "keys").resolve()
    return path.resolve().parent == keys


def sealed_key(
    settings: Settings, path: Path, purpose: str, make: Callable[[], bytes] | None = None
) -> bytes:
    """The key at ``path`` in memory; made (by ``make()``) and sealed if absent.

    ``purpose`` ("seller", "ssh") binds the sealed file to its use: a seller key file
    copied over the SSH key does not open.
    """
    box = secret_box(settings)
    if not path.exists():
        if make is None:
            raise FileNotFoundError(path)
        plain = make()
        _write_private(path, _seal(box, plain, purpose))
        return plain
    data = path.read_bytes()
    if is_sealed(data):
        try:
            sealed = base64.b64decode(data[len(SEALED_MAGIC) :].strip(), validate=True)
            return box.open(sealed, _context(purpose))
        except (ValueError, SecretUnreadableError):
            raise KeyUnreadableError(
                f"{path} does not open with this installation's secret_key (was the key "
                "changed, or the file copied from another installation?)"
            ) from None
    if _owned(settings, path):
        _write_private(path, _seal(box, data, purpose))
        log.warning("sealed the plain key file %s with the secret key", path.name)
    elif path not in _warned:
        _warned.add(path)
        log.warning(
            "the key file %s is not encrypted at rest; seal it with "
            "`forwardflow keys seal %s --for %s`",
            path,
            path,
            purpose,
        )
    return data
