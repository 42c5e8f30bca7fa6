"""The sale file's rows: what the buyer receives for each sold receivable, nothing more.

Pure: it maps a closed portfolio and the ledger to rows of strings in the buyer's
layout (``debtsale.salerows`` reads each field), checks each row against the layout's
Table Schema (``debtsale.salefields``; a failing row stops the close naming row and
field), neutralises text cells a spreadsheet would run (``debtsale.csvsafe``), encodes
them as the file's CSV lines (with face and price in minor units beside them) and groups
them in the chunks the store keeps. Writing, hashing, encrypting and uploading are the
adapters' job.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any, NamedTuple

from debtsale.agreement import Agreement, Granularity
from debtsale.csvsafe import neutralise
from debtsale.errors import DomainError, RuleViolation
from debtsale.ledger import Ledger
from debtsale.money import MINOR_UNITS, Money, total
from debtsale.portfolio import Portfolio, PortfolioLine
from debtsale.salefields import row_problem, table_schema
from debtsale.salerows import READERS, SoldReceivable, account_row
from debtsale.statute import StatuteTable

__all__ = [
    "CHUNK_ROWS",
    "Parties",
    "SaleFileChunk",
    "SaleFileSummary",
    "SaleFileTotals",
    "SoldRow",
    "csv_lines",
    "in_chunks",
    "minor_units",
    "sale_file_header",
    "sale_file_rows",
    "sale_file_schema",
    "sale_file_summary",
    "schema_bytes",
    "sold_rows",
    "tie_out_problems",
    "totals_of",
]


def sale_file_header(agreement: Agreement) -> list[str]:
    """The header row: the buyer's layout, in its order."""
    return list(agreement.file.columns)


def sale_file_schema(agreement: Agreement) -> dict[str, Any]:
    """The Frictionless Table Schema of the agreement's sale file (shipped with each file)."""
    layout = agreement.file
    return table_schema(
        layout.version,
        layout.columns,
        required=layout.required,
        granularity=layout.granularity.value,
    )


def _neutralised(schema: dict[str, Any], values: list[str]) -> list[str]:
    """Text cells a spreadsheet would run as formulas, made inert (``debtsale.csvsafe``)."""
    return [
        neutralise(value) if entry["type"] == "string" else value
        for entry, value in zip(schema["fields"], values, strict=True)
    ]


def _checked(
    schema: dict[str, Any], number: int, lines: list[PortfolioLine], values: list[str]
) -> list[str]:
    """The row, or RuleViolation naming the row, its receivables and the failing field."""
    problem = row_problem(schema, values)
    if problem is not None:
        field, why = problem
        ids = ", ".join(line.receivable_id for line in lines[:5])
        raise RuleViolation(
            "salefile.schema",
            f"sale file row {number} (receivable {ids}): field {field} {why}; "
            "the close is refused and nothing is sent. Complete it in the books "
            "(or change the agreement's layout) and close again",
        )
    return _neutralised(schema, values)


def _lines_and_rows(
    portfolio: Portfolio,
    ledger: Ledger,
    agreement: Agreement,
    statute: StatuteTable | None = None,
) -> Iterator[tuple[list[PortfolioLine], list[str]]]:
    if portfolio.closing is None:
        raise DomainError("salefile.closed", f"portfolio {portfolio.id} is not closed")
    statute = statute or StatuteTable.shipped()
    columns = agreement.file.columns
    readers = [READERS[column] for column in columns]
    by_account = agreement.file.granularity is Granularity.ACCOUNT
    invoices: dict[str, list[tuple[PortfolioLine, list[str]]]] = {}
    for line in portfolio.sold_lines():
        receivable = ledger.receivable(line.receivable_id)
        if receivable is None:
            raise DomainError(
                "salefile.ledger", f"receivable {line.receivable_id} is missing from the ledger"
            )
        sold = SoldReceivable(
            line, receivable, ledger.profile(line.customer_id), agreement, portfolio, statute
        )
        values = [read(sold) for read in readers]
        if not by_account:
            yield [line], values
        else:
            invoices.setdefault(line.customer_id, []).append((line, values))
    for _, group in sorted(invoices.items()):
        lines = [line for line, _ in group]
        yield lines, account_row(columns, [values for _, values in group])


def _validated(
    portfolio: Portfolio, ledger: Ledger, agreement: Agreement
) -> Iterator[tuple[list[PortfolioLine], list[str]]]:
    schema = sale_file_schema(agreement)
    for number, (lines, values) in enumerate(
        _lines_and_rows(portfolio, ledger, agreement), start=1
    ):
        yield lines, _checked(schema, number, lines, values)


def sale_file_rows(
    portfolio: Portfolio, ledger: Ledger, agreement: Agreement
) -> Iterator[list[str]]:
    """The file's rows in the buyer's layout, checked against its schema and neutralised.

    One row per receivable sold at the close, in receivable order; or, for an account
    layout, one per customer (in customer order) summing its invoices. A row that fails
    the schema raises RuleViolation ``salefile.schema`` naming the row and the field.
    """
    return (values for _, values in _validated(portfolio, ledger, agreement))


@dataclass(frozen=True, slots=True)
class SaleFileTotals:
    """What the file must add up to: the reconciliation's count, face and price."""

    records: int
    face: Money
    price: Money


def tie_out_problems(
    expected: SaleFileTotals, records: int, face_minor: int, price_minor: int
) -> list[str]:
    """How rows counted and summed (in minor units) differ from the reconciliation; [] if not."""
    problems = []
    if records != expected.records:
        problems.append(f"{records} rows, reconciliation sold {expected.records}")
    for name, found, money in (
        ("face", face_minor, expected.face),
        ("price", price_minor, expected.price),
    ):
        if found != minor_units(money):
            in_units = Decimal(found).scaleb(-MINOR_UNITS[money.currency])
            problems.append(f"{name} {in_units}, reconciliation {money.amount}")
    return problems


def totals_of(portfolio: Portfolio, agreement: Agreement | None = None) -> SaleFileTotals:
    """The totals a sale file of ``portfolio`` must carry (checked before it leaves).

    Rows are receivables, or customers when the agreement's layout is per account.
    """
    sold = portfolio.sold_lines()
    rows = len(sold)
    if agreement is not None and agreement.file.granularity is Granularity.ACCOUNT:
        rows = len({line.customer_id for line in sold})
    return SaleFileTotals(rows, portfolio.total_face, portfolio.total_price)


def schema_bytes(schema: dict[str, Any]) -> bytes:
    """The schema file's bytes exactly as shipped (its SHA-256 is in the manifest)."""
    return (json.dumps(schema, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class Parties:
    """Who sells to whom, as the manifest, the bill of sale and the chain of title name them."""

    seller_name: str
    seller_address: str
    buyer: str


@dataclass(frozen=True, slots=True)
class SaleFileSummary:
    """A closed sale as its file states it: what, to whom, in which layout, adding up to what.

    Recorded with the file's rows when the portfolio closes, so the delivery never needs
    the portfolio or the ledger again (and later put-backs do not change what was sold).
    ``schema`` is the Table Schema the rows were checked against; ``receivables`` the
    count of receivables sold (equal to the rows unless the layout is per account).
    """

    portfolio_id: str
    agreement_id: str
    tenant: str
    cutoff: date
    closing: date
    layout_version: str
    header: tuple[str, ...]
    totals: SaleFileTotals
    parties: Parties | None = None
    schema: dict[str, Any] = field(default_factory=dict)
    granularity: str = Granularity.INVOICE.value
    receivables: int | None = None
    documents: bool = False

    @property
    def schema_sha256(self) -> str:
        """SHA-256 of the shipped schema file."""
        return hashlib.sha256(schema_bytes(self.schema)).hexdigest()


def sale_file_summary(portfolio: Portfolio, agreement: Agreement) -> SaleFileSummary:
    """The summary of a closed portfolio's sale file under ``agreement``."""
    if portfolio.closing is None:
        raise DomainError("salefile.closed", f"portfolio {portfolio.id} is not closed")
    return SaleFileSummary(
        portfolio_id=portfolio.id,
        agreement_id=agreement.id,
        tenant=portfolio.tenant,
        cutoff=portfolio.cutoff,
        closing=portfolio.closing,
        layout_version=agreement.file.version,
        header=tuple(sale_file_header(agreement)),
        totals=totals_of(portfolio, agreement),
        parties=Parties(agreement.seller.name, agreement.seller.address, agreement.buyer),
        schema=sale_file_schema(agreement),
        granularity=agreement.file.granularity.value,
        receivables=len(portfolio.sold_lines()),
        documents=agreement.file.documents,
    )


class SoldRow(NamedTuple):
    """One sale-file row as recorded at the close: its CSV line, face and price in minor units.

    The amounts travel beside the line so the file can be counted and totalled as it
    streams, with integer sums, and checked against the reconciliation.
    """

    line: bytes  # UTF-8, ``\r\n`` at the end
    face_minor: int
    price_minor: int


def minor_units(money: Money) -> int:
    """The amount in the currency's minor unit (cents for USD): exact, as Money is rounded."""
    return int(money.amount.scaleb(MINOR_UNITS[money.currency]))


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    """Each row as one CSV line: RFC 4180 quoting, ``\r\n`` at the end, as the file has it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def sold_rows(portfolio: Portfolio, ledger: Ledger, agreement: Agreement) -> Iterator[SoldRow]:
    """The sale file's rows as recorded at the close (see ``sale_file_rows``)."""
    nothing = Money.zero(agreement.currency)
    for lines, values in _validated(portfolio, ledger, agreement):
        face = total((s.final_face or nothing for s in lines), agreement.currency)
        price = total((s.price or nothing for s in lines), agreement.currency)
        line = next(csv_lines([values]))
        yield SoldRow(line.encode("utf-8"), minor_units(face), minor_units(price))


class SaleFileChunk(NamedTuple):
    """Consecutive rows of a sale file as stored and streamed: their bytes, count and sums.

    The store keeps a file as chunks, so delivering a million rows reads a thousand
    records and runs no code per row; the counts and sums let the file be checked
    against the reconciliation as it streams.
    """

    data: bytes
    rows: int
    face_minor: int
    price_minor: int


CHUNK_ROWS = 1_000


def in_chunks(rows: Iterable[SoldRow], size: int = CHUNK_ROWS) -> Iterator[SaleFileChunk]:
    """Group rows, in order, into chunks of ``size`` (the last may be smaller)."""
    source = iter(rows)
    while batch := list(islice(source, size)):
        yield SaleFileChunk(
            b"".join(row.line for row in batch),
            len(batch),
            sum(row.face_minor for row in batch),
            sum(row.price_minor for row in batch),
        )
