"""The sale file's rows: what the buyer receives for each sold receivable, nothing more.

Pure: it maps a closed portfolio and the ledger to rows of decimal strings in the
buyer's layout, encodes them as the file's CSV lines (with face and price in minor
units beside them) and groups them in the chunks the store keeps. Writing, hashing,
encrypting and uploading are the adapters' job.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import NamedTuple

from debtsale.agreement import Agreement, PutbackReason
from debtsale.changes import DebtorProfile
from debtsale.errors import DomainError
from debtsale.ledger import Ledger, Receivable
from debtsale.money import MINOR_UNITS, Money, total
from debtsale.portfolio import Portfolio, PortfolioLine

__all__ = [
    "CHUNK_ROWS",
    "SaleFileChunk",
    "SaleFileSummary",
    "SaleFileTotals",
    "SoldRow",
    "csv_lines",
    "in_chunks",
    "minor_units",
    "sale_file_header",
    "sale_file_rows",
    "sale_file_summary",
    "sold_rows",
    "tie_out_problems",
    "totals_of",
]


@dataclass(frozen=True, slots=True)
class _Row:
    line: PortfolioLine
    receivable: Receivable
    profile: DebtorProfile | None
    agreement: Agreement
    portfolio: Portfolio


def _amount(money: Money | None) -> str:
    return "" if money is None else str(money.amount)


def _address(row: _Row) -> str:
    if row.profile is None:
        return ""
    a = row.profile.address
    return ", ".join(
        part for part in (*a.lines, a.city, a.region, a.postal_code, a.country) if part
    )


def _last_payment(row: _Row) -> tuple[str, str]:
    payment = row.receivable.last_payment(row.portfolio.cutoff)
    return (payment.effective.isoformat(), _amount(payment.amount)) if payment else ("", "")


def _profile(attribute: str) -> Callable[[_Row], str]:
    def read(row: _Row) -> str:
        value = getattr(row.profile, attribute, "") if row.profile else ""
        return value.value if hasattr(value, "value") else str(value)

    return read


_FIELDS: dict[str, Callable[[_Row], str]] = {
    "debtor_legal_name": _profile("legal_name"),
    "dba": _profile("dba"),
    "tax_id": _profile("tax_id"),
    "billing_address": _address,
    "contact": _profile("contact"),
    "seller_name": lambda r: r.agreement.seller.name,
    "seller_address": lambda r: r.agreement.seller.address,
    "customer_id": lambda r: r.line.customer_id,
    "invoice_number": lambda r: r.line.invoice_number,
    "invoice_date": lambda r: r.receivable.invoice_date.isoformat(),
    "service_period": lambda r: (
        f"{r.receivable.service_period[0]}/{r.receivable.service_period[1]}"
        if r.receivable.service_period
        else ""
    ),
    "due_date": lambda r: r.receivable.due_date.isoformat() if r.receivable.due_date else "",
    "original_amount": lambda r: _amount(r.receivable.original),
    "payments_and_credits_to_cutoff": lambda r: _amount(
        total(r.line.counted_at_cutoff.values(), r.line.currency)
    ),
    "face_at_cutoff": lambda r: _amount(r.line.face_at_cutoff),
    "face": lambda r: _amount(r.line.final_face),
    "last_payment_date": lambda r: _last_payment(r)[0],
    "last_payment_amount": lambda r: _last_payment(r)[1],
    "first_delinquency_date": lambda r: r.receivable.first_delinquency().isoformat(),
    # sold receivables carry no active dispute (those are excluded): a buyer's dispute
    # put-back is the only dispute a sold line can have
    "dispute_flag": lambda r: "true" if r.line.reason == PutbackReason.DISPUTE.value else "false",
    "documentation": _profile("documentation"),
    "personal_guarantee": lambda r: (
        "true" if r.profile is not None and r.profile.personal_guarantee else "false"
    ),
    "itemization_date": lambda r: r.portfolio.cutoff.isoformat(),
    "price": lambda r: _amount(r.line.price),
    "currency": lambda r: r.line.currency,
    "receivable_id": lambda r: r.line.receivable_id,
}


def sale_file_header(agreement: Agreement) -> list[str]:
    """The header row: the buyer's layout, in its order."""
    return list(agreement.file.columns)


def _lines_and_rows(
    portfolio: Portfolio, ledger: Ledger, agreement: Agreement
) -> Iterator[tuple[PortfolioLine, list[str]]]:
    if portfolio.closing is None:
        raise DomainError("salefile.closed", f"portfolio {portfolio.id} is not closed")
    readers = [_FIELDS[column] for column in agreement.file.columns]
    for line in portfolio.sold_lines():
        receivable = ledger.receivable(line.receivable_id)
        if receivable is None:
            raise DomainError(
                "salefile.ledger", f"receivable {line.receivable_id} is missing from the ledger"
            )
        row = _Row(line, receivable, ledger.profile(line.customer_id), agreement, portfolio)
        yield line, [read(row) for read in readers]


def sale_file_rows(
    portfolio: Portfolio, ledger: Ledger, agreement: Agreement
) -> Iterator[list[str]]:
    """One row per receivable sold at the close, in receivable order, in the buyer's layout."""
    return (values for _, values in _lines_and_rows(portfolio, ledger, agreement))


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


def totals_of(portfolio: Portfolio) -> SaleFileTotals:
    """The totals a sale file of ``portfolio`` must carry (checked before it leaves)."""
    return SaleFileTotals(len(portfolio.sold_lines()), portfolio.total_face, portfolio.total_price)


@dataclass(frozen=True, slots=True)
class SaleFileSummary:
    """A closed sale as its file states it: what, to whom, in which layout, adding up to what.

    Recorded with the file's rows when the portfolio closes, so the delivery never needs
    the portfolio or the ledger again (and later put-backs do not change what was sold).
    """

    portfolio_id: str
    agreement_id: str
    tenant: str
    cutoff: date
    closing: date
    layout_version: str
    header: tuple[str, ...]
    totals: SaleFileTotals


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
        totals=totals_of(portfolio),
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
    for sold, values in _lines_and_rows(portfolio, ledger, agreement):
        face = sold.final_face if sold.final_face is not None else nothing
        price = sold.price if sold.price is not None else nothing
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
