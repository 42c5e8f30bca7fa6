"""Deliver a closed portfolio's sale file: build, check, encrypt once, upload, receipt.

Every artefact lives in a work folder per portfolio: a retry (or a second delivery)
reuses the ciphertext and its companions (schema, documents, bill of sale, chain of
title, signed manifest: ``sftp.companions``) already made, so the manifest's hashes
stay true. A new file is
built, encrypted and uploaded at once (``deliver_sale``, ``sftp.stream``) and published
only after its rows tied out. Uploads are retried with a fresh connection and
exponential backoff; a pinned-key mismatch, an authentication failure or a conflicting
remote file are final at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
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
from debtsale.salefile import Parties, SaleFileChunk, SaleFileTotals, tie_out_problems
from sftp.companions import DocumentRequest, Sale, existing_companions, make_companions
from sftp.connection import BuyerAuthError, HostKeyMismatchError, SftpEndpoint, open_sftp
from sftp.names import render_name
from sftp.openpgp import encrypting, refuse_unreadable
from sftp.salefile import SaleFileFigures, WrittenFile, hash_file, write_sale_file
from sftp.stream import StreamedUpload, streams
from sftp.upload import RemoteConflictError, place_file, receipt_line

__all__ = [
    "DeliveryError",
    "FailureKind",
    "Receipt",
    "SaleFile",
    "TotalsMismatchError",
    "deliver",
    "deliver_sale",
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
    chunks: Iterable[SaleFileChunk]  # the rows in file order, a chunk at a time
    expected: SaleFileTotals
    parties: Parties = field(default_factory=lambda: Parties("", "", ""))
    schema: Mapping[str, Any] = field(default_factory=dict)
    granularity: str = "invoice"
    receivables: int | None = None  # receivables sold (the rows, unless per account)
    documents: DocumentRequest | None = None

    def described(self) -> Sale:
        """The sale as its companion files describe it."""
        return Sale(
            portfolio_id=self.portfolio_id,
            agreement_id=self.agreement_id,
            cutoff=self.cutoff,
            closing=self.closing,
            layout_version=self.layout_version,
            header=self.header,
            expected=self.expected,
            parties=self.parties,
            schema=self.schema,
            granularity=self.granularity,
            receivables=self.expected.records if self.receivables is None else self.receivables,
            documents=self.documents,
        )


@dataclass(frozen=True, slots=True)
class Prepared:
    """The files ready to upload, in the folder they were made in.

    ``companions`` go between the sidecar and the manifest: schema, documents archive,
    bill of sale and its signature, chain of title and its signature, the manifest's
    signature.
    """

    ciphertext: WrittenFile
    sidecar: WrittenFile
    manifest: WrittenFile
    plaintext_sha256: str
    records: int
    companions: tuple[WrittenFile, ...] = ()

    @property
    def in_order(self) -> list[WrittenFile]:
        """Every file in upload order, the manifest last (a buyer may wait for it)."""
        return [self.ciphertext, self.sidecar, *self.companions, self.manifest]


class FailureKind(StrEnum):
    """Why a delivery failed, for the caller to act on (no parsing of messages)."""

    NONE = ""
    HOST_KEY = "host_key"  # the server's key is not the pinned one
    AUTHENTICATION = "authentication"  # the buyer's server refused our key
    CONFLICT = "conflict"  # a different file already holds the name
    TRANSIENT = "transient"  # every attempt failed on the network

    @property
    def final(self) -> bool:
        """True when no retry can help: an operator must act."""
        return self in (FailureKind.HOST_KEY, FailureKind.AUTHENTICATION, FailureKind.CONFLICT)


def _kind(error: BaseException) -> FailureKind:
    if isinstance(error, HostKeyMismatchError):
        return FailureKind.HOST_KEY
    if isinstance(error, BuyerAuthError):
        return FailureKind.AUTHENTICATION
    if isinstance(error, RemoteConflictError):
        return FailureKind.CONFLICT
    return FailureKind.TRANSIENT


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
    kind: FailureKind = FailureKind.NONE
    final: bool = False  # the failure needs an operator (pin, key, conflicting file)

    def failed(self, kind: FailureKind, error: str) -> None:
        """Record why the delivery failed."""
        self.kind, self.error, self.final = kind, error, kind.final

    def as_data(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {**asdict(self), "kind": self.kind.value}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_totals(written: SaleFileFigures, expected: SaleFileTotals) -> None:
    problems = tie_out_problems(expected, written.records, written.face_minor, written.price_minor)
    if problems:
        raise TotalsMismatchError(
            "the sale file does not tie out to the reconciliation: " + "; ".join(problems)
        )


def _ciphertext_path(sale: SaleFile, terms: DeliveryTerms, folder: Path) -> Path:
    name = render_name(
        terms.name_template,
        portfolio_id=sale.portfolio_id,
        agreement_id=sale.agreement_id,
        closing=sale.closing.isoformat(),
        cutoff=sale.cutoff.isoformat(),
    )
    return folder / name


def _prepared_already(cipher_path: Path) -> bool:
    manifest = cipher_path.with_name(f"{cipher_path.name}.manifest.json")
    return manifest.exists() and cipher_path.exists()


def prepare(
    sale: SaleFile,
    terms: DeliveryTerms,
    folder: Path,
    *,
    buyer_certificate: Path,
    seller_key: Path | bytes,
) -> Prepared:
    """Build the CSV, check it, encrypt once, write the sidecar and manifest (reused if made)."""
    folder.mkdir(parents=True, exist_ok=True)
    cipher_path = _ciphertext_path(sale, terms, folder)
    name = cipher_path.name
    manifest_path = folder / f"{name}.manifest.json"
    if _prepared_already(cipher_path):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return Prepared(
            hash_file(cipher_path),
            hash_file(folder / f"{name}.sha256"),
            hash_file(manifest_path),
            manifest["plaintext"]["sha256"],
            manifest["record_count"],
            existing_companions(cipher_path),
        )
    if not terms.reads_rfc9580:
        refuse_unreadable(buyer_certificate)
    # built, hashed, totalled and encrypted in one pass: the plaintext never touches the
    # disk, and a file that does not tie out is dropped before anything is kept or sent
    with encrypting(
        cipher_path, buyer=buyer_certificate, seller=seller_key, armor=terms.armor
    ) as sink:
        written = write_sale_file(sink, sale.header, sale.chunks)
        _check_totals(written, sale.expected)
    cipher = hash_file(cipher_path)
    sidecar_path = folder / f"{name}.sha256"
    sidecar_path.write_text(f"{cipher.sha256}  {name}\n", encoding="utf-8")
    sidecar = hash_file(sidecar_path)
    companions = make_companions(
        sale.described(),
        folder,
        cipher,
        sidecar,
        written,
        buyer_certificate=buyer_certificate,
        seller_key=seller_key,
        armor=terms.armor,
    )
    return Prepared(
        cipher, sidecar, companions.manifest, written.sha256, written.records, companions.files
    )


_FINAL = (HostKeyMismatchError, BuyerAuthError, RemoteConflictError)


def _transient(error: BaseException) -> bool:
    return isinstance(error, (OSError, paramiko.SSHException, EOFError)) and not isinstance(
        error, _FINAL
    )


def deliver_sale(
    sale: SaleFile,
    terms: DeliveryTerms,
    folder: Path,
    endpoint: SftpEndpoint,
    *,
    buyer_certificate: Path,
    seller_key: Path | bytes,
    attempts: int = 5,
    backoff_s: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[Prepared, Receipt]:
    """Prepare and deliver; a new file is uploaded while it is built and encrypted.

    The first attempt streams the ciphertext to its temporary name as it is written
    (``sftp.stream``) and publishes it once ``prepare`` has checked it; if that attempt
    fails, the finished file goes the ordinary way, resuming what was sent. A file made
    before, or a buyer whose habits rule streaming out, goes the ordinary way at once.
    """
    cipher_path = _ciphertext_path(sale, terms, folder)
    if _prepared_already(cipher_path) or not streams(terms):
        prepared = prepare(
            sale, terms, folder, buyer_certificate=buyer_certificate, seller_key=seller_key
        )
        return prepared, deliver(
            prepared,
            terms,
            endpoint,
            portfolio_id=sale.portfolio_id,
            attempts=attempts,
            backoff_s=backoff_s,
            progress=progress,
        )
    receipt = Receipt(sale.portfolio_id, "failed", started_at=_now(), attempts=1)
    # a ciphertext left half-made by a crash must not be mistaken for the new one
    cipher_path.with_name(cipher_path.name + ".partial").unlink(missing_ok=True)
    stream = StreamedUpload(terms, endpoint, cipher_path, progress)
    stream.start()
    try:
        prepared = prepare(
            sale, terms, folder, buyer_certificate=buyer_certificate, seller_key=seller_key
        )
    except BaseException:
        stream.stop()
        raise
    if stream.finish(prepared.ciphertext, prepared.in_order[1:]):
        receipt.files, receipt.status, receipt.finished_at = stream.placed, "delivered", _now()
        return prepared, receipt
    if isinstance(stream.error, _FINAL):
        receipt.failed(_kind(stream.error), f"{type(stream.error).__name__}: {stream.error}")
        receipt.finished_at = _now()
        return prepared, receipt
    if attempts <= 1:
        receipt.failed(
            FailureKind.TRANSIENT,
            f"gave up after 1 attempt: {type(stream.error).__name__}: {stream.error}",
        )
        receipt.finished_at = _now()
        return prepared, receipt
    return prepared, deliver(
        prepared,
        terms,
        endpoint,
        portfolio_id=sale.portfolio_id,
        attempts=attempts - 1,
        backoff_s=backoff_s,
        progress=progress,
        receipt=receipt,
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
    receipt: Receipt | None = None,
) -> Receipt:
    """Upload the files in the buyer's order; retry transient failures with a fresh session.

    ``receipt`` carries on one begun by an earlier attempt (its attempts count on).
    """
    receipt = receipt or Receipt(portfolio_id, "failed", started_at=_now())
    order = prepared.in_order
    if terms.manifest_first:
        order = [prepared.manifest, *order[:-1]]

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
                placed.append(receipt_line(remote, local, how))
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
        receipt.failed(
            FailureKind.TRANSIENT,
            f"gave up after {receipt.attempts} attempts: {type(cause).__name__}: {cause}",
        )
    except _FINAL as error:
        receipt.failed(_kind(error), f"{type(error).__name__}: {error}")
    receipt.finished_at = _now()
    return receipt
