"""Documents a buyer uploads beside its put-back requests: read, hashed, kept, named.

A request line's ``documents`` column names files in the inbound folder's
``documents/`` subfolder. At intake each named file is read with the inbox's own bounds
(regular file, size limit), kept under ``DATA_DIR/inbound/<agreement>/documents/<sha256>``
and recorded with the request as ``documents/<name> sha256:<hex>``. A file named but not
there (or refused by the bounds) rejects the request file whole, saying which; the
buyer's copies are left where they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["DOCUMENTS_FOLDER", "MissingDocumentError", "collect_documents", "evidence_of"]

DOCUMENTS_FOLDER = "documents"


class MissingDocumentError(LookupError):
    """A request names a document that is not in the documents folder."""


def collect_documents(
    names: Iterable[str],
    read: Callable[[str], bytes],
    inbound: str,
    keep: Path,
) -> dict[str, str]:
    """Read each named document (``read`` takes its remote path), keep a copy; name → SHA-256."""
    found: dict[str, str] = {}
    for name in sorted(set(names)):
        try:
            data = read(f"{inbound}/{DOCUMENTS_FOLDER}/{name}")
        except FileNotFoundError:
            raise MissingDocumentError(
                f"the request names {DOCUMENTS_FOLDER}/{name}, which is not in "
                f"{inbound}/{DOCUMENTS_FOLDER}/; upload it there first"
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        keep.mkdir(parents=True, exist_ok=True)
        target = keep / digest
        if not target.exists():
            partial = target.with_name(digest + ".partial")
            partial.write_bytes(data)
            partial.replace(target)
        found[name] = digest
    return found


def evidence_of(names: Iterable[str], found: dict[str, str]) -> str:
    """The evidence recorded for a line's documents: ``documents/NAME sha256:HEX; …``."""
    return "; ".join(f"{DOCUMENTS_FOLDER}/{name} sha256:{found.get(name, '?')}" for name in names)
