"""How complete the data behind a cohort is, before anything is cut: what a buyer prices.

Studies of debt-sale files found principal on a minority of accounts and documents on
very few; a buyer discounts what is missing. For each receivable it records which of
the fields buyers ask for are present, so a valuation shows the share per cohort.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from debtsale.changes import DebtorProfile, Documentation
from debtsale.ledger import Receivable

__all__ = ["COMPLETENESS_FIELDS", "present_fields", "shares"]

COMPLETENESS_FIELDS: dict[str, str] = {
    "principal": "the invoice's original amount (the principal) is known",
    "due_date": "the due date is known (else the invoice date stands in)",
    "address": "a full billing address: line 1, city, region and postal code",
    "contact": "a billing contact (e-mail) is on file",
    "tax_id": "the debtor's tax id is on file",
    "last_payment": "a payment was ever made (its date and amount are in the file)",
    "documents": "documented beyond the invoice: a signed contract or a communication trail",
}
"""The fields counted, with what "present" means for each."""


def present_fields(
    receivable: Receivable, profile: DebtorProfile | None, as_of: date
) -> frozenset[str]:
    """Which of ``COMPLETENESS_FIELDS`` one receivable has on ``as_of``."""
    found = set()
    if not receivable.original.is_zero:
        found.add("principal")
    if receivable.due_date is not None:
        found.add("due_date")
    if receivable.last_payment(as_of) is not None:
        found.add("last_payment")
    if profile is not None:
        a = profile.address
        if any(a.lines) and a.city and a.region and a.postal_code:
            found.add("address")
        if profile.contact:
            found.add("contact")
        if profile.tax_id:
            found.add("tax_id")
        if profile.documentation is not Documentation.INVOICE_ONLY:
            found.add("documents")
    return frozenset(found)


def shares(found: Iterable[frozenset[str]]) -> Mapping[str, Decimal]:
    """The share (0–1, four places) of receivables having each field."""
    rows = list(found)
    if not rows:
        return {}
    return {
        name: (Decimal(sum(name in row for row in rows)) / len(rows)).quantize(Decimal("0.0001"))
        for name in COMPLETENESS_FIELDS
    }
