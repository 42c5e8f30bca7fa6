"""What travels with a sale file: schema, documents, bill of sale, chain of title, manifest.

Made once per sale in the work folder, after the CSV was written and tied out, and reused
by every retry (OpenPGP output is randomised: the manifest's hashes must stay true). The
manifest (version 2) lists everything else with its hash and is signed (detached); it
is written last, so a folder with a manifest holds a complete delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from debtsale.billofsale import BillOfSale, chain_of_title
from debtsale.salefile import Parties, SaleFileTotals, schema_bytes
from sftp.billofsale import bill_of_sale_pdf
from sftp.documents import ArchiveFigures, DocumentRefusedError, DocumentSource, write_archive
from sftp.openpgp import detached_signature, encrypted_bytes, encrypting, seller_fingerprint
from sftp.salefile import SaleFileFigures, WrittenFile, hash_file

__all__ = [
    "DIALECT",
    "MANIFEST_VERSION",
    "Companions",
    "DocumentRequest",
    "DocumentsUnavailableError",
    "Sale",
    "companion_names",
    "existing_companions",
    "make_companions",
]

MANIFEST_VERSION = "2"

DIALECT: dict[str, Any] = {
    "delimiter": ",",
    "lineTerminator": "\r\n",
    "quoteChar": '"',
    "doubleQuote": True,
    "header": True,
    "encoding": "utf-8",
}
"""The CSV dialect of every sale file (Frictionless CSV Dialect terms)."""


class DocumentsUnavailableError(DocumentRefusedError):
    """The agreement promises documents, but no document source is configured."""


@dataclass(frozen=True, slots=True)
class DocumentRequest:
    """Which receivables' documents go in the archive, and where they come from."""

    tenant: str
    receivable_ids: Sequence[str]
    source: DocumentSource | None


@dataclass(frozen=True, slots=True)
class Sale:
    """What the companions describe (the delivery's ``SaleFile`` without its rows)."""

    portfolio_id: str
    agreement_id: str
    cutoff: date
    closing: date
    layout_version: str
    header: Sequence[str]
    expected: SaleFileTotals
    parties: Parties
    schema: Mapping[str, Any]
    granularity: str
    receivables: int
    documents: DocumentRequest | None


def _base(cipher_name: str) -> str:
    base = cipher_name
    for suffix in (".pgp", ".gpg", ".asc", ".csv"):
        base = base.removesuffix(suffix)
    return base


def companion_names(cipher_name: str) -> dict[str, str]:
    """The companions' file names for a ciphertext name, by role, in upload order."""
    base = _base(cipher_name)
    return {
        "schema": f"{base}.schema.json",
        "documents": f"{base}.documents.zip.pgp",
        "bill_of_sale": f"{base}.bill-of-sale.pdf.pgp",
        "bill_of_sale_signature": f"{base}.bill-of-sale.pdf.sig",
        "chain_of_title": f"{base}.chain-of-title.json",
        "chain_of_title_signature": f"{base}.chain-of-title.json.sig",
        "manifest_signature": f"{cipher_name}.manifest.json.sig",
    }


@dataclass(frozen=True, slots=True)
class Companions:
    """The companion files in upload order (manifest signature last) and the manifest."""

    files: tuple[WrittenFile, ...]
    manifest: WrittenFile


def _write(path: Path, data: bytes) -> WrittenFile:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return hash_file(path)


def _entry(file: WrittenFile) -> dict[str, Any]:
    return {"name": file.path.name, "sha256": file.sha256, "size": file.size}


def _documents(
    sale: Sale, path: Path, buyer: Path, seller: Path | bytes, armor: bool
) -> tuple[WrittenFile, ArchiveFigures] | None:
    request = sale.documents
    if request is None:
        return None
    if request.source is None:
        raise DocumentsUnavailableError(
            f"agreement {sale.agreement_id} promises the invoice documents, but no document "
            "source is configured for its platform; nothing was sent"
        )
    with encrypting(path, buyer=buyer, seller=seller, armor=armor) as sink:
        figures = write_archive(
            sink, request.tenant, request.receivable_ids, request.source, sale.closing
        )
    return hash_file(path), figures


def _documents_entry(made: tuple[WrittenFile, ArchiveFigures] | None) -> dict[str, Any] | None:
    if made is None:
        return None
    archive, figures = made
    return {
        "archive": {
            **_entry(archive),
            "plaintext_sha256": figures.sha256,
            "plaintext_size": figures.size,
            "format": "zip",
        },
        "files": [
            {"name": d.name, "receivable_id": d.receivable_id, "sha256": d.sha256, "size": d.size}
            for d in figures.files
        ],
        "missing": figures.missing,
    }


def _title(
    sale: Sale,
    folder: Path,
    names: dict[str, str],
    written: SaleFileFigures,
    schema: WrittenFile,
    plaintext_name: str,
    fingerprint: str,
    *,
    buyer_certificate: Path,
    seller_key: Path | bytes,
) -> tuple[WrittenFile, WrittenFile, WrittenFile, WrittenFile, str]:
    """The bill of sale (encrypted PDF and its signature) and the chain of title (and its
    signature); with the PDF's SHA-256."""
    bill = BillOfSale(
        portfolio_id=sale.portfolio_id,
        agreement_id=sale.agreement_id,
        seller_name=sale.parties.seller_name,
        seller_address=sale.parties.seller_address,
        buyer=sale.parties.buyer,
        cutoff=sale.cutoff,
        closing=sale.closing,
        rows=written.records,
        receivables=sale.receivables,
        face=sale.expected.face,
        price=sale.expected.price,
        layout_version=sale.layout_version,
        file_name=plaintext_name,
        file_sha256=written.sha256,
        schema_sha256=schema.sha256,
        seller_fingerprint=fingerprint,
    )
    pdf = bill_of_sale_pdf(bill)
    pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    bill_file = _write(
        folder / names["bill_of_sale"],
        encrypted_bytes(pdf, buyer=buyer_certificate, seller=seller_key),
    )
    bill_signature = _write(
        folder / names["bill_of_sale_signature"], detached_signature(pdf, seller_key)
    )
    chain_data = chain_of_title(
        bill, name=names["bill_of_sale"].removesuffix(".pgp"), sha256=pdf_sha256
    )
    chain_bytes = (json.dumps(chain_data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    chain = _write(folder / names["chain_of_title"], chain_bytes)
    chain_signature = _write(
        folder / names["chain_of_title_signature"], detached_signature(chain_bytes, seller_key)
    )
    return bill_file, bill_signature, chain, chain_signature, pdf_sha256


def make_companions(
    sale: Sale,
    folder: Path,
    ciphertext: WrittenFile,
    sidecar: WrittenFile,
    written: SaleFileFigures,
    *,
    buyer_certificate: Path,
    seller_key: Path | bytes,
    armor: bool = False,
) -> Companions:
    """Make the schema, documents archive, signed bill of sale and chain of title, then the
    signed manifest listing them all (written last)."""
    names = companion_names(ciphertext.path.name)
    fingerprint = seller_fingerprint(seller_key)
    files: list[WrittenFile] = []
    schema = _write(folder / names["schema"], schema_bytes(dict(sale.schema)))
    files.append(schema)
    documents = _documents(sale, folder / names["documents"], buyer_certificate, seller_key, armor)
    if documents is not None:
        files.append(documents[0])
    plaintext_name = ciphertext.path.name.removesuffix(".pgp").removesuffix(".gpg")
    bill_file, bill_signature, chain, chain_signature, pdf_sha256 = _title(
        sale,
        folder,
        names,
        written,
        schema,
        plaintext_name,
        fingerprint,
        buyer_certificate=buyer_certificate,
        seller_key=seller_key,
    )
    files += [bill_file, bill_signature, chain, chain_signature]
    manifest_data = {
        "manifest_version": MANIFEST_VERSION,
        "portfolio_id": sale.portfolio_id,
        "agreement_id": sale.agreement_id,
        "seller": {
            "name": sale.parties.seller_name,
            "address": sale.parties.seller_address,
            "signing_key_fingerprint": fingerprint,
        },
        "buyer": sale.parties.buyer,
        "cutoff": sale.cutoff.isoformat(),
        "closing": sale.closing.isoformat(),
        "layout_version": sale.layout_version,
        "granularity": sale.granularity,
        "schema": _entry(schema),
        "columns": list(sale.header),
        "dialect": DIALECT,
        "record_count": written.records,
        "receivable_count": sale.receivables,
        "total_face": str(sale.expected.face.amount),
        "total_price": str(sale.expected.price.amount),
        "currency": sale.expected.face.currency,
        "plaintext": {"name": plaintext_name, "sha256": written.sha256, "size": written.size},
        "ciphertext": _entry(ciphertext),
        "sidecar": _entry(sidecar),
        "documents": _documents_entry(documents),
        "bill_of_sale": {
            **_entry(bill_file),
            "pdf_sha256": pdf_sha256,
            "signature": _entry(bill_signature),
        },
        "chain_of_title": {**_entry(chain), "signature": _entry(chain_signature)},
        "signature": {"name": names["manifest_signature"], "signer": fingerprint},
    }
    manifest_bytes = (json.dumps(manifest_data, indent=2, ensure_ascii=False) + "\n").encode()
    manifest_path = folder / f"{ciphertext.path.name}.manifest.json"
    files.append(
        _write(folder / names["manifest_signature"], detached_signature(manifest_bytes, seller_key))
    )
    return Companions(tuple(files), _write(manifest_path, manifest_bytes))


def existing_companions(cipher_path: Path) -> tuple[WrittenFile, ...]:
    """The companions a previous ``make_companions`` left beside ``cipher_path``, in order."""
    folder = cipher_path.parent
    return tuple(
        hash_file(folder / name)
        for name in companion_names(cipher_path.name).values()
        if (folder / name).exists()
    )
