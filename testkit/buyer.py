"""The buyer's side of a delivery in tests: open, verify and load what a sale delivered.

What a buyer does with stock tools, step by step (docs/sale-file.md): verify the
manifest's detached signature, check every listed file's SHA-256, decrypt the file, the
documents archive and the bill of sale with gpg, verify the bill's and the chain of
title's signatures, validate the CSV against the shipped schema with ``frictionless``,
and load it as a spreadsheet would. Any failure raises ``BuyerCheckError`` saying what.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.gpg import BuyerGpg

__all__ = [
    "BuyerCheckError",
    "OpenedSale",
    "frictionless_problems",
    "open_sale",
    "spreadsheet_formulas",
]


class BuyerCheckError(AssertionError):
    """Something a buyer checks did not hold."""


@dataclass
class OpenedSale:
    """Everything a delivery held, decrypted and verified."""

    manifest: dict[str, Any]
    csv_path: Path
    plaintext: bytes
    rows: list[dict[str, str]]
    schema_path: Path
    bill_of_sale: bytes
    chain_of_title: dict[str, Any]
    documents: dict[str, bytes] = field(default_factory=dict)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise BuyerCheckError(what)


def _verify(gpg: BuyerGpg, signature: Path, signed: Path, signer: str) -> None:
    result = gpg.run("--status-fd", "1", "--verify", str(signature), str(signed))
    status = result.stdout.decode("utf-8", errors="replace")
    _check("GOODSIG" in status, f"{signature.name}: no good signature:\n{status}")
    valid = [line for line in status.splitlines() if "VALIDSIG" in line]
    # VALIDSIG names the signing (sub)key and, last, the primary key's fingerprint
    _check(any(signer in line for line in valid), f"{signature.name} is not signed by {signer}")


def _decrypt(gpg: BuyerGpg, path: Path) -> bytes:
    plaintext, status = gpg.decrypt(path)
    _check("DECRYPTION_OKAY" in status, f"{path.name} did not decrypt:\n{status}")
    _check("GOODSIG" in status, f"{path.name} carries no good seller signature")
    return plaintext


def open_sale(gpg: BuyerGpg, folder: Path, manifest_name: str, workdir: Path) -> OpenedSale:
    """Open the delivery whose manifest is ``folder/manifest_name`` into ``workdir``.

    ``gpg`` holds the buyer's secret key and the seller's certificate.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / manifest_name
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    signer = manifest["seller"]["signing_key_fingerprint"]
    _verify(gpg, folder / manifest["signature"]["name"], manifest_path, signer)
    listed = [
        manifest["ciphertext"],
        manifest["sidecar"],
        manifest["schema"],
        manifest["bill_of_sale"],
        manifest["bill_of_sale"]["signature"],
        manifest["chain_of_title"],
        manifest["chain_of_title"]["signature"],
    ]
    if manifest.get("documents"):
        listed.append(manifest["documents"]["archive"])
    for entry in listed:
        data = (folder / entry["name"]).read_bytes()
        _check(_sha256(data) == entry["sha256"], f"{entry['name']}: SHA-256 differs")
    plaintext = _decrypt(gpg, folder / manifest["ciphertext"]["name"])
    _check(_sha256(plaintext) == manifest["plaintext"]["sha256"], "the CSV's SHA-256 differs")
    csv_path = workdir / manifest["plaintext"]["name"]
    csv_path.write_bytes(plaintext)
    rows = list(csv.DictReader(io.StringIO(plaintext.decode("utf-8"), newline="")))
    bill = _decrypt(gpg, folder / manifest["bill_of_sale"]["name"])
    _check(_sha256(bill) == manifest["bill_of_sale"]["pdf_sha256"], "the bill's SHA-256 differs")
    bill_path = workdir / manifest["bill_of_sale"]["name"].removesuffix(".pgp")
    bill_path.write_bytes(bill)
    _verify(gpg, folder / manifest["bill_of_sale"]["signature"]["name"], bill_path, signer)
    chain_path = folder / manifest["chain_of_title"]["name"]
    _verify(gpg, folder / manifest["chain_of_title"]["signature"]["name"], chain_path, signer)
    opened = OpenedSale(
        manifest=manifest,
        csv_path=csv_path,
        plaintext=plaintext,
        rows=rows,
        schema_path=folder / manifest["schema"]["name"],
        bill_of_sale=bill,
        chain_of_title=json.loads(chain_path.read_text(encoding="utf-8")),
    )
    if manifest.get("documents"):
        archive = _decrypt(gpg, folder / manifest["documents"]["archive"]["name"])
        expected = manifest["documents"]["archive"]["plaintext_sha256"]
        _check(_sha256(archive) == expected, "the archive's SHA-256 differs")
        with zipfile.ZipFile(io.BytesIO(archive)) as unzipped:
            opened.documents = {name: unzipped.read(name) for name in unzipped.namelist()}
        for entry in manifest["documents"]["files"]:
            data = opened.documents.get(entry["name"], b"")
            _check(_sha256(data) == entry["sha256"], f"{entry['name']}: SHA-256 differs")
    return opened


def frictionless_problems(csv_path: Path, schema_path: Path, dialect: dict[str, Any]) -> str:
    """``frictionless validate`` of the CSV against the schema: '' when valid, else its report.

    Run as a buyer would, in the folder holding both (frictionless refuses absolute
    paths as unsafe): the schema is copied beside the CSV if it is elsewhere.
    """
    binary = Path(sys.executable).parent / "frictionless"
    beside = csv_path.parent / schema_path.name
    if beside != schema_path:
        beside.write_bytes(schema_path.read_bytes())
    result = subprocess.run(
        [
            str(binary),
            "validate",
            csv_path.name,
            "--schema",
            beside.name,
            "--dialect",
            json.dumps({k: v for k, v in dialect.items() if k != "encoding"}),
            "--encoding",
            dialect.get("encoding", "utf-8"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=csv_path.parent,
        env={**os.environ, "COLUMNS": "200"},
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def spreadsheet_formulas(data: bytes) -> list[str]:
    """Cells a spreadsheet would run as formulas when it opens this CSV (none, we hope).

    Each cell goes into an openpyxl worksheet as a spreadsheet's CSV import puts it
    (openpyxl makes a formula of a text starting ``=``); cells starting ``+``, ``-`` or
    ``@`` that are not plain numbers are formulas to Excel and LibreOffice as well.
    """
    from openpyxl import Workbook

    sheet = Workbook().active
    found = []
    text = data.decode("utf-8")
    for r, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c, value=value)
            runs = value[:1] in ("+", "-", "@", "\t", "\r") and not _PLAIN_NUMBER.fullmatch(value)
            if cell.data_type == "f" or runs:
                found.append(f"row {r} column {c}: {value!r}")
    return found
