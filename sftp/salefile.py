"""Write the sale file as CSV in one pass: constant memory, hashed and totalled as it goes."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

__all__ = ["WrittenFile", "hash_file", "write_sale_file"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file on disk: its size and SHA-256, and for a sale file what its rows add up to."""

    path: Path
    size: int
    sha256: str
    records: int = 0
    face: Decimal | None = None
    price: Decimal | None = None


def write_sale_file(path: Path, header: list[str], rows: Iterable[list[str]]) -> WrittenFile:
    """Write header and rows (UTF-8, RFC 4180, ``\\r\\n``); sum the face and price columns."""
    face_at = header.index("face") if "face" in header else None
    price_at = header.index("price") if "price" in header else None
    face = Decimal(0) if face_at is not None else None
    price = Decimal(0) if price_at is not None else None
    records, size, digest = 0, 0, hashlib.sha256()
    batch = io.StringIO()
    writer = csv.writer(batch, lineterminator="\r\n")

    def flush(handle: BinaryIO) -> None:
        nonlocal size
        data = batch.getvalue().encode("utf-8")
        digest.update(data)
        size += len(data)
        handle.write(data)
        batch.seek(0)
        batch.truncate()

    with path.open("wb") as handle:
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            records += 1
            if face is not None and face_at is not None:
                face += Decimal(row[face_at])
            if price is not None and price_at is not None:
                price += Decimal(row[price_at])
            if batch.tell() >= _CHUNK:
                flush(handle)
        flush(handle)
    return WrittenFile(path, size, digest.hexdigest(), records, face, price)


def hash_file(path: Path) -> WrittenFile:
    """Size and SHA-256 of a file already on disk."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return WrittenFile(path, size, digest.hexdigest())
