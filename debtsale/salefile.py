"""The sale file's rows: what the buyer receives for each sold receivable, nothing more.

Pure: it maps a closed portfolio and the ledger to rows of decimal strings in the
buyer's layout. Writing, hashing, encrypting and uploading are the adapters' job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from debtsale.agreement import Agreement, PutbackReason
from debtsale.changes import DebtorProfile
from debtsale.errors import DomainError
from debtsale.ledger import Ledger, Receivable
from debtsale.money import Money, total
from debtsale.portfolio import Portfolio, PortfolioLine

__all__ = ["SaleFileTotals", "sale_file_header", "sale_file_rows", "totals_of"]


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


def sale_file_rows(
    portfolio: Portfolio, ledger: Ledger, agreement: Agreement
) -> Iterator[list[str]]:
    """One row per receivable sold at the close, in receivable order, in the buyer's layout."""
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
        yield [read(row) for read in readers]


@dataclass(frozen=True, slots=True)
class SaleFileTotals:
    """What the file must add up to: the reconciliation's count, face and price."""

    records: int
    face: Money
    price: Money


def totals_of(portfolio: Portfolio) -> SaleFileTotals:
    """The totals a sale file of ``portfolio`` must carry (checked before it leaves)."""
    return SaleFileTotals(len(portfolio.sold_lines()), portfolio.total_face, portfolio.total_price)
