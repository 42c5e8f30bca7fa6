"""The bill of sale and the chain of title of a closed sale: what they say, not how they look.

Pure: the words and figures of the bill (rendered to PDF and signed by the adapter) and
the chain-of-title record a buyer hands on when it resells: who owned the receivables
before it, under which agreements and bills, identified by the sale file's hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from debtsale.money import Money

__all__ = ["BillOfSale", "chain_of_title"]


def _amount(money: Money) -> str:
    return f"{money.amount:,} {money.currency}"


@dataclass(frozen=True, slots=True)
class BillOfSale:
    """One close's bill of sale: parties, agreement, dates, what was sold, which file."""

    portfolio_id: str
    agreement_id: str
    seller_name: str
    seller_address: str
    buyer: str
    cutoff: date
    closing: date
    rows: int
    receivables: int
    face: Money
    price: Money
    layout_version: str
    file_name: str  # the decrypted sale file's name
    file_sha256: str  # of the decrypted CSV
    schema_sha256: str
    seller_fingerprint: str

    @property
    def title(self) -> str:
        """The document's title."""
        return f"Bill of Sale - portfolio {self.portfolio_id}"

    def paragraphs(self) -> list[str]:
        """The operative words, in order."""
        return [
            f"For value received, {self.seller_name} ({self.seller_address or 'address on file'}), "
            f"the Seller, sells, assigns and transfers to {self.buyer}, the Buyer, all of its "
            f"right, title and interest in and to the {self.receivables:,} receivables listed "
            f"in the sale file identified below, sold under agreement {self.agreement_id} "
            f"with a cut-off date of {self.cutoff.isoformat()}, effective on the closing date "
            f"{self.closing.isoformat()}.",
            "The receivables are transferred subject to the agreement's terms, including its "
            "put-back (repurchase) provisions, and otherwise without recourse.",
            "The sale file is identified by the SHA-256 of its decrypted contents; any file "
            "with another hash is not the file this bill refers to. The Seller signs this "
            "bill with the OpenPGP key whose fingerprint is given below (detached signature "
            "delivered beside it).",
        ]

    def particulars(self) -> list[tuple[str, str]]:
        """The figures and identifiers, as label and value."""
        return [
            ("Seller", self.seller_name),
            ("Seller's address", self.seller_address),
            ("Buyer", self.buyer),
            ("Agreement", self.agreement_id),
            ("Portfolio", self.portfolio_id),
            ("Cut-off date", self.cutoff.isoformat()),
            ("Closing date", self.closing.isoformat()),
            ("Receivables sold", f"{self.receivables:,}"),
            ("Rows in the sale file", f"{self.rows:,}"),
            ("Total face", _amount(self.face)),
            ("Total price", _amount(self.price)),
            ("Sale file", self.file_name),
            ("Sale file SHA-256", self.file_sha256),
            ("Layout version", self.layout_version),
            ("Schema SHA-256", self.schema_sha256),
            ("Seller's signing key", self.seller_fingerprint),
        ]


def chain_of_title(bill: BillOfSale, *, name: str, sha256: str) -> dict[str, Any]:
    """The chain-of-title record of the receivables in ``bill``'s file.

    ``name`` and ``sha256`` identify the signed bill-of-sale PDF. A buyer that resells
    appends a transfer (sequence 2, from itself to its buyer, with its own bill) and
    hands the record on with this one's signature.
    """
    return {
        "chain_of_title_version": "1",
        "portfolio_id": bill.portfolio_id,
        "receivables": bill.receivables,
        "sale_file": {
            "name": bill.file_name,
            "sha256": bill.file_sha256,
            "rows": bill.rows,
            "total_face": str(bill.face.amount),
            "currency": bill.face.currency,
        },
        "original_creditor": {"name": bill.seller_name, "address": bill.seller_address},
        "transfers": [
            {
                "sequence": 1,
                "from": {"name": bill.seller_name, "address": bill.seller_address},
                "to": {"name": bill.buyer},
                "agreement_id": bill.agreement_id,
                "cutoff": bill.cutoff.isoformat(),
                "effective": bill.closing.isoformat(),
                "bill_of_sale": {"name": name, "sha256": sha256},
                "signed_by": bill.seller_fingerprint,
            }
        ],
    }
