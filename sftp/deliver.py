"""Deliver a closed portfolio's sale file: build, check, encrypt once, upload, receipt.

Every artefact lives in a work folder per portfolio: a retry (or a second delivery)
reuses the ciphertext already made, so the manifest's hashes stay true. Uploads are
retried with a fresh connection and exponential backoff; a pinned-key mismatch, an
authentication failure or a conflicting remote file are final at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import paramiko
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from debtsale.agreement import DeliveryTerms
from debtsale.salefile import SaleFileTotals
from sftp.connection import BuyerAuthError, HostKeyMismatchError, SftpEndpoint, open_sftp
from sftp.names import render_name
from sftp.openpgp import encrypt_for_buyer
from sftp.salefile import WrittenFile, hash_file, write_sale_file
from sftp.upload import Placed, RemoteConflictError, place_file

__all__ = [
    "DeliveryError",
    "Receipt",
    "SaleFile",
    "TotalsMismatchError",
    "deliver",
    "prepare",
]


class DeliveryError(RuntimeError):
    """Delivery failed for good; the message says why and what was (not) sent."""


class TotalsMismatchError(DeliveryError):
    """The file's rows do not add up to the reconciliation: nothing leaves the machine."""


@dataclass(frozen=True, slots=True)
class SaleFile:
    """What is being sold and to whom, as the delivery needs it."""

    portfolio_id: str
    agreement_id: str
    cutoff: date
    closing: date
    layout_version: str
    header: list[str]
    rows: Iterable[list[str]]
    expected: SaleFileTotals


@dataclass(frozen=True, slots=True)
class Prepared:
    """The files ready to upload, in the folder they were made in."""

    ciphertext: WrittenFile
    sidecar: WrittenFile
    manifest: WrittenFile
    plaintext_sha256: str
    records: int


@dataclass
class Receipt:
    """What was delivered where, and how it went; stored by the wiring."""

    portfolio_id: str
    status: str  # delivered | failed
    files: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    final: bool = False  # the failure needs an operator (pin, key, conflicting file)

    def as_data(self) -> dict[str, Any]:
        """JSON-safe form."""
        return asdict(self)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_totals(written: WrittenFile, expected: SaleFileTotals) -> None:
    problems = []
    if written.records != expected.records:
        problems.append(f"{written.records} rows, reconciliation sold {expected.records}")
    if written.face is not None and written.face != expected.face.amount:
        problems.append(f"face {written.face}, reconciliation {expected.face.amount}")
    if written.price is not None and written.price != expected.price.amount:
        problems.append(f"price {written.price}, reconciliation {expected.price.amount}")
    if problems:
        raise TotalsMismatchError(
            "the sale file does not tie out to the reconciliation: " + "; ".join(problems)
        )


def prepare(
    sale: SaleFile, terms: DeliveryTerms, folder: Path, *, buyer_certificate: Path, seller_key: Path
) -> Prepared:
    """Build the CSV, check it, encrypt once, write the sidecar and manifest (reused if made)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = render_name(
        terms.name_template,
        portfolio_id=sale.portfolio_id,
        agreement_id=sale.agreement_id,
        closing=sale.closing.isoformat(),
        cutoff=sale.cutoff.isoformat(),
    )
    manifest_path = folder / f"{name}.manifest.json"
    cipher_path = folder / name
    if manifest_path.exists() and cipher_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return Prepared(
            hash_file(cipher_path),
            hash_file(folder / f"{name}.sha256"),
            hash_file(manifest_path),
            manifest["plaintext"]["sha256"],
            manifest["record_count"],
        )
    plain = folder / "sale-file.csv"
    written = write_sale_file(plain, sale.header, sale.rows)
    _check_totals(written, sale.expected)
    encrypt_for_buyer(
        plain, cipher_path, buyer=buyer_certificate, seller=seller_key, armor=terms.armor
    )
    cipher = hash_file(cipher_path)
    sidecar_path = folder / f"{name}.sha256"
    sidecar_path.write_text(f"{cipher.sha256}  {name}\n", encoding="utf-8")
    manifest_data = {
        "portfolio_id": sale.portfolio_id,
        "agreement_id": sale.agreement_id,
        "cutoff": sale.cutoff.isoformat(),
        "closing": sale.closing.isoformat(),
        "layout_version": sale.layout_version,
        "record_count": written.records,
        "total_face": str(sale.expected.face.amount),
        "total_price": str(sale.expected.price.amount),
        "currency": sale.expected.face.currency,
        "plaintext": {"sha256": written.sha256, "size": written.size},
        "ciphertext": {"name": name, "sha256": cipher.sha256, "size": cipher.size},
    }
    partial = manifest_path.with_name(manifest_path.name + ".partial")
    partial.write_text(json.dumps(manifest_data, indent=2) + "\n", encoding="utf-8")
    partial.replace(manifest_path)
    plain.unlink()  # the plaintext never lingers; its hash is in the manifest
    return Prepared(
        cipher, hash_file(sidecar_path), hash_file(manifest_path), written.sha256, written.records
    )


_FINAL = (HostKeyMismatchError, BuyerAuthError, RemoteConflictError)


def _transient(error: BaseException) -> bool:
    return isinstance(error, (OSError, paramiko.SSHException, EOFError)) and not isinstance(
        error, _FINAL
    )


def deliver(
    prepared: Prepared,
    terms: DeliveryTerms,
    endpoint: SftpEndpoint,
    *,
    portfolio_id: str,
    attempts: int = 5,
    backoff_s: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> Receipt:
    """Upload the files in the buyer's order; retry transient failures with a fresh session."""
    receipt = Receipt(portfolio_id, "failed", started_at=_now())
    order = [prepared.ciphertext, prepared.sidecar, prepared.manifest]
    if terms.manifest_first:
        order = [prepared.manifest, prepared.ciphertext, prepared.sidecar]

    def attempt() -> list[dict[str, Any]]:
        receipt.attempts += 1
        placed = []
        with open_sftp(endpoint) as client:
            for local in order:
                remote, how = place_file(
                    client,
                    local,
                    terms.directory,
                    local.path.name,
                    terms.strategy,
                    progress if local is prepared.ciphertext else None,
                )
                placed.append(
                    {
                        "remote_path": remote,
                        "size": local.size,
                        "sha256": local.sha256,
                        "outcome": how.value,
                    }
                )
        return placed

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_s, max=30),
        retry=retry_if_exception(_transient),
        reraise=False,
        sleep=time.sleep,
    )
    try:
        receipt.files = retrying(attempt)
        receipt.status = "delivered"
    except RetryError as error:
        cause = error.last_attempt.exception()
        receipt.error = (
            f"gave up after {receipt.attempts} attempts: {type(cause).__name__}: {cause}"
        )
    except _FINAL as error:
        receipt.error = f"{type(error).__name__}: {error}"
        receipt.final = True
    receipt.finished_at = _now()
    return receipt


def already_delivered(receipt: Receipt) -> bool:
    """True when every file was found identical at its final name."""
    return bool(receipt.files) and all(
        f["outcome"] == Placed.ALREADY_THERE.value for f in receipt.files
    )
