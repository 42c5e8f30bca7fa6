"""Write the sale file as CSV in one pass: constant memory, hashed and totalled as it goes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from debtsale.salefile import SaleFileChunk, csv_lines

__all__ = [
    "SaleFileFigures",
    "Sink",
    "WrittenFile",
    "hash_file",
    "write_sale_file",
]

_CHUNK = 1 << 20


class Sink(Protocol):
    """Where the CSV bytes go: a file, or the pipe into the encryptor."""

    def write(self, data: bytes, /) -> object:
        """Take all of ``data``."""
        ...


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file on disk: its size and SHA-256."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class SaleFileFigures:
    """The plaintext CSV as written: size, SHA-256, rows, and face and price in minor units."""

    size: int
    sha256: str
    records: int
    face_minor: int
    price_minor: int


def write_sale_file(
    sink: Sink, header: list[str], chunks: Iterable[SaleFileChunk]
) -> SaleFileFigures:
    """Write the header and the rows' CSV bytes; count, total and hash as it goes.

    The rows come in chunks (as the store keeps them), so memory stays flat however many
    there are, and each chunk is one write: about the size the encryptor's pipe takes.
    """
    digest = hashlib.sha256()
    records = size = face = price = 0

    def emit(data: bytes) -> None:
        nonlocal size
        digest.update(data)
        size += len(data)
        sink.write(data)

    emit(next(csv_lines([header])).encode("utf-8"))
    for chunk in chunks:
        records += chunk.rows
        face += chunk.face_minor
        price += chunk.price_minor
        emit(chunk.data)
    return SaleFileFigures(size, digest.hexdigest(), records, face, price)


def hash_file(path: Path) -> WrittenFile:
    """Size and SHA-256 of a file already on disk."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return WrittenFile(path, size, digest.hexdigest())
