"""Each sold receivable's documents in one ZIP archive, written in one pass into the encryptor.

The documents come from a ``DocumentSource`` (the platform: an invoice PDF per
receivable); the archive is streamed (ZIP with data descriptors needs no seeking), so
it never touches the disk unencrypted. Every file is hashed on the way and listed in the
manifest; a receivable the platform has no document for is listed as missing.
"""

from __future__ import annotations

import hashlib
import itertools
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from debtsale.salerows import document_name
from sftp.salefile import Sink

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "ArchiveFigures",
    "ArchivedDocument",
    "DocumentRefusedError",
    "DocumentSource",
    "write_archive",
]

MAX_DOCUMENT_BYTES = 25 * 1024 * 1024


class DocumentRefusedError(ValueError):
    """A document the platform gave cannot be sent (too large): an operator must look."""


class DocumentSource(Protocol):
    """Where a sold receivable's documents come from: the accounting platform."""

    def invoice_pdf(self, tenant: str, receivable_id: str) -> bytes | None:
        """The invoice as the platform renders it (PDF bytes), or None if it has none.

        Raise OSError (or a subclass) for a failure worth retrying (network, rate limit).
        """
        ...


@dataclass(frozen=True, slots=True)
class ArchivedDocument:
    """One file in the archive: where it is, whose it is, its size and SHA-256."""

    name: str
    receivable_id: str
    size: int
    sha256: str


@dataclass
class ArchiveFigures:
    """The archive as written: its files, the receivables without a document, its hash."""

    files: list[ArchivedDocument] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    size: int = 0
    sha256: str = ""


class _Counting:
    """A write-only stream that hashes and counts what passes to the sink."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        self._sink.write(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""

    def close(self) -> None:
        """The sink is the caller's to close."""


_FETCHERS = 8  # calls at once: platforms allow about ten per company
_WINDOW = 64  # invoices asked for ahead of the archive, no more (memory stays flat)


def _fetched(
    source: DocumentSource, tenant: str, receivable_ids: Iterable[str]
) -> Iterator[tuple[str, bytes | None]]:
    """Each receivable's PDF, in order, fetched a few at once (each is a platform call)."""
    ids = iter(receivable_ids)
    with ThreadPoolExecutor(_FETCHERS, thread_name_prefix="ff-documents") as pool:
        while window := list(itertools.islice(ids, _WINDOW)):
            yield from zip(
                window, pool.map(lambda rid: source.invoice_pdf(tenant, rid), window), strict=True
            )


def write_archive(
    sink: Sink,
    tenant: str,
    receivable_ids: Iterable[str],
    source: DocumentSource,
    dated: date,
) -> ArchiveFigures:
    """Write the ZIP of every receivable's invoice PDF to ``sink``; entries are ``dated``
    (the closing day), so the same documents make the same archive."""
    figures = ArchiveFigures()
    stream = _Counting(sink)
    stamp = (dated.year, dated.month, dated.day, 0, 0, 0)
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for receivable_id, data in _fetched(source, tenant, receivable_ids):
            if data is None:
                figures.missing.append(receivable_id)
                continue
            if len(data) > MAX_DOCUMENT_BYTES:
                raise DocumentRefusedError(
                    f"the document of {receivable_id} is over {MAX_DOCUMENT_BYTES:,} bytes"
                )
            name = document_name(receivable_id)
            entry = zipfile.ZipInfo(name, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
            figures.files.append(
                ArchivedDocument(name, receivable_id, len(data), hashlib.sha256(data).hexdigest())
            )
    figures.size, figures.sha256 = stream.size, stream.digest.hexdigest()
    return figures
