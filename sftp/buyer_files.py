"""Files for the buyer's outbox after the sale: signed CSV, placed without overwriting.

Put-back results and remittance statements are CSV in the sale file's dialect (UTF-8,
comma, CRLF, text cells neutralised as ``debtsale.csvsafe`` says), each with the
seller's detached OpenPGP signature beside it (``NAME.sig``). They are written locally
first, then placed in the buyer's results folder the way sale files are (temporary
name, rename; an identical file already there is left as it is, a different one is
never overwritten).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from debtsale.agreement import DeliveryTerms
from debtsale.csvsafe import neutralise
from sftp.connection import SftpEndpoint, open_sftp
from sftp.openpgp import detached_signature
from sftp.salefile import WrittenFile, hash_file
from sftp.upload import place_file, receipt_line

__all__ = ["csv_bytes", "send_to_buyer", "write_signed"]


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]], text: set[str]) -> bytes:
    """The CSV file: header, rows, CRLF; the columns named in ``text`` neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            neutralise(v) if name in text else v for name, v in zip(header, row, strict=True)
        )
    return out.getvalue().encode("utf-8")


def write_signed(
    folder: Path, name: str, data: bytes, seller_key: Path | bytes
) -> tuple[WrittenFile, WrittenFile]:
    """Write ``name`` and its detached signature ``name.sig`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, body in (
        (folder / name, data),
        (folder / f"{name}.sig", detached_signature(data, seller_key)),
    ):
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(body)
        partial.replace(path)
        written.append(hash_file(path))
    return written[0], written[1]


def send_to_buyer(
    endpoint: SftpEndpoint, terms: DeliveryTerms, files: Sequence[WrittenFile]
) -> list[dict[str, Any]]:
    """Place ``files`` in the buyer's results folder in one session; receipt lines."""
    placed = []
    with open_sftp(endpoint) as client:
        try:
            client.stat(terms.outbound_directory)
        except FileNotFoundError:
            client.mkdir(terms.outbound_directory)
        for local in files:
            remote, how = place_file(
                client, local, terms.outbound_directory, local.path.name, terms.strategy
            )
            placed.append(receipt_line(remote, local, how))
    return placed
