"""What each sale-file field holds for a sold receivable, and how account rows sum invoices.

Pure: every value is read from the closed portfolio's line, the ledger's receivable and
debtor profile, the agreement and the statute table, as a string in the file's form
(decimal amounts, ISO dates, ``true``/``false``). ``docs/sale-file.md`` is the reader's
side of the same definitions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property

from debtsale.agreement import Agreement, PutbackReason
from debtsale.changes import DebtorProfile
from debtsale.ledger import ApplicationKind, Receivable
from debtsale.money import Money, total
from debtsale.portfolio import Portfolio, PortfolioLine, Treatment
from debtsale.statute import Limitation, StatuteTable

__all__ = ["READERS", "SoldReceivable", "account_row", "document_name"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def document_name(receivable_id: str) -> str:
    """The path of a receivable's invoice PDF inside the documents archive."""
    return f"invoices/{_SAFE.sub('_', receivable_id)}.pdf"


def _amount(money: Money | None) -> str:
    return "" if money is None else str(money.amount)


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class SoldReceivable:
    """One sold receivable with everything its row is read from."""

    line: PortfolioLine
    receivable: Receivable
    profile: DebtorProfile | None
    agreement: Agreement
    portfolio: Portfolio
    statute: StatuteTable

    @property
    def closing(self) -> date:
        """The closing date (the portfolio is closed)."""
        assert self.portfolio.closing is not None
        return self.portfolio.closing

    @cached_property
    def limitation(self) -> Limitation:
        """When the claim expires, counting payments up to the closing."""
        profile = self.profile or DebtorProfile(legal_name="")
        last = self.receivable.last_payment(self.closing)
        return self.statute.limitation(
            profile.address.region,
            profile.documentation,
            self.receivable.default_date,
            last.effective if last else None,
        )

    def counted(self, kind: ApplicationKind) -> Money:
        """Payments (or credits) counted in the face at cut-off."""
        prefix = f"{kind}:"
        return total(
            (m for key, m in self.line.counted_at_cutoff.items() if key.startswith(prefix)),
            self.line.currency,
        )

    @property
    def itemization_amount(self) -> Money:
        """The amount owed on the itemization date: the face at cut-off plus what reduced it."""
        return (
            self.line.face_at_cutoff
            + self.counted(ApplicationKind.PAYMENT)
            + self.counted(ApplicationKind.CREDIT)
        )

    def last_payment(self) -> tuple[str, str]:
        """The latest payment by the cut-off: its date and amount."""
        payment = self.receivable.last_payment(self.portfolio.cutoff)
        return (payment.effective.isoformat(), _amount(payment.amount)) if payment else ("", "")

    def adjustment_reasons(self) -> str:
        """Why the face moved between cut-off and closing, as the codes docs/sale-file.md lists."""
        reasons = []
        for adjustment in self.line.adjustments:
            if adjustment.face_effect.is_zero:
                continue
            if adjustment.treatment is Treatment.RESTATED:
                reasons.append("restated")
            elif adjustment.source.startswith(f"{ApplicationKind.CREDIT}:"):
                reasons.append("credit_after_cutoff")
            else:
                reasons.append("payment_after_cutoff")
        return ";".join(dict.fromkeys(reasons))

    def address(self) -> tuple[str, ...]:
        """Line 1, further lines, city, region, postal code, country (empty if unknown)."""
        if self.profile is None:
            return ("", "", "", "", "", "")
        a = self.profile.address
        lines = [part for part in a.lines if part]
        return (
            lines[0] if lines else "",
            ", ".join(lines[1:]),
            a.city,
            a.region.upper(),
            a.postal_code,
            a.country,
        )


def _billing_address(row: SoldReceivable) -> str:
    if row.profile is None:
        return ""
    a = row.profile.address
    return ", ".join(
        part for part in (*a.lines, a.city, a.region, a.postal_code, a.country) if part
    )


def _profile(attribute: str) -> Callable[[SoldReceivable], str]:
    def read(row: SoldReceivable) -> str:
        value = getattr(row.profile, attribute, "") if row.profile else ""
        return value.value if hasattr(value, "value") else str(value)

    return read


def _address_part(index: int) -> Callable[[SoldReceivable], str]:
    return lambda row: row.address()[index]


def _counted(kind: ApplicationKind) -> Callable[[SoldReceivable], str]:
    return lambda row: _amount(row.counted(kind))


READERS: dict[str, Callable[[SoldReceivable], str]] = {
    "debtor_legal_name": _profile("legal_name"),
    "dba": _profile("dba"),
    "tax_id": _profile("tax_id"),
    "billing_address": _billing_address,
    "contact": _profile("contact"),
    "seller_name": lambda r: r.agreement.seller.name,
    "seller_address": lambda r: r.agreement.seller.address,
    "original_creditor_name": lambda r: r.agreement.seller.name,
    "original_creditor_address": lambda r: r.agreement.seller.address,
    "customer_id": lambda r: r.line.customer_id,
    "invoice_number": lambda r: r.line.invoice_number,
    "invoice_count": lambda _: "1",
    "address_line1": _address_part(0),
    "address_line2": _address_part(1),
    "city": _address_part(2),
    "region": _address_part(3),
    "postal_code": _address_part(4),
    "country": _address_part(5),
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
    "adjustments_to_close": lambda r: _amount(r.line.face_adjustments),
    "adjustment_reason": SoldReceivable.adjustment_reasons,
    "face": lambda r: _amount(r.line.final_face),
    "last_payment_date": lambda r: r.last_payment()[0],
    "last_payment_amount": lambda r: r.last_payment()[1],
    "first_delinquency_date": lambda r: r.receivable.first_delinquency().isoformat(),
    "charge_off_date": lambda r: r.closing.isoformat(),
    # sold receivables carry no active dispute (those are excluded): a buyer's dispute
    # put-back is the only dispute a sold line can have
    "dispute_flag": lambda r: _flag(r.line.reason == PutbackReason.DISPUTE.value),
    "documentation": _profile("documentation"),
    "document_files": lambda r: (
        document_name(r.line.receivable_id) if r.agreement.file.documents else ""
    ),
    "personal_guarantee": lambda r: _flag(r.profile is not None and r.profile.personal_guarantee),
    "itemization_date": lambda r: r.receivable.invoice_date.isoformat(),
    "itemization_reference": lambda _: "transaction_date",
    "itemization_amount": lambda r: _amount(r.itemization_amount),
    "payments_since_itemization": _counted(ApplicationKind.PAYMENT),
    "credits_since_itemization": _counted(ApplicationKind.CREDIT),
    "interest_since_itemization": lambda r: _amount(Money.zero(r.line.currency)),
    "fees_since_itemization": lambda r: _amount(Money.zero(r.line.currency)),
    "price": lambda r: _amount(r.line.price),
    "currency": lambda r: r.line.currency,
    "receivable_id": lambda r: r.line.receivable_id,
    "governing_state": lambda r: r.address()[3],
    "claim_type": lambda r: r.limitation.claim_type.value,
    "sol_years": lambda r: str(r.limitation.years),
    "sol_expiry_date": lambda r: r.limitation.expires_on.isoformat(),
    # a receivable flagged bankrupt or disputed by the closing date was removed, never sold
    "no_bankruptcy": lambda _: "true",
    "no_open_dispute": lambda _: "true",
    "exclusions_checked_on": lambda r: r.closing.isoformat(),
}
"""How each field is read for one sold receivable (one invoice row)."""


def _sum(values: Sequence[str]) -> str:
    return str(sum((Decimal(v) for v in values if v), Decimal(0)))


def _earliest(values: Sequence[str]) -> str:
    return min((v for v in values if v), default="")


def _joined(values: Sequence[str]) -> str:
    return ";".join(dict.fromkeys(part for v in values for part in v.split(";") if part))


def _every(values: Sequence[str]) -> str:
    return _flag(all(v == "true" for v in values))


def _any(values: Sequence[str]) -> str:
    return _flag(any(v == "true" for v in values))


_SUMMED = {
    "invoice_count",
    "original_amount",
    "payments_and_credits_to_cutoff",
    "face_at_cutoff",
    "adjustments_to_close",
    "face",
    "price",
    "itemization_amount",
    "payments_since_itemization",
    "credits_since_itemization",
    "interest_since_itemization",
    "fees_since_itemization",
}
_EARLIEST = {
    "invoice_date",
    "due_date",
    "first_delinquency_date",
    "itemization_date",
    "sol_expiry_date",
}
_JOINED = {
    "receivable_id",
    "invoice_number",
    "service_period",
    "adjustment_reason",
    "document_files",
}


def account_row(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """One account's row from its invoice rows (same columns): amounts summed, the
    earliest dates, lists joined with ``;``, the latest payment, account fields as they are.

    The earliest statute expiry is the account's (the most cautious).
    """
    if len(rows) == 1:
        return list(rows[0])
    by_column = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    latest = max(
        range(len(rows)),
        key=lambda i: by_column.get("last_payment_date", [""] * len(rows))[i],
    )
    values = []
    for name in columns:
        found = by_column[name]
        if name in _SUMMED:
            values.append(_sum(found))
        elif name in _EARLIEST:
            values.append(_earliest(found))
        elif name in _JOINED:
            values.append(_joined(found))
        elif name in ("last_payment_date", "last_payment_amount"):
            values.append(found[latest])
        elif name in ("no_bankruptcy", "no_open_dispute", "personal_guarantee"):
            values.append(_every(found) if name != "personal_guarantee" else _any(found))
        elif name == "dispute_flag":
            values.append(_any(found))
        else:
            values.append(found[0])
    return values
