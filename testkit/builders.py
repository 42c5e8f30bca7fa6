"""Builders for tests (this package's and the adapters'): ledgers, agreements, money."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from debtsale.agreement import Agreement, sample_agreement_text
from debtsale.changes import (
    Allocation,
    CreditRecorded,
    CustomerMerged,
    CustomerRecorded,
    DebtorProfile,
    Documentation,
    InvoiceDeleted,
    InvoiceRecorded,
    InvoiceVoided,
    LedgerChange,
    PaymentDeleted,
    PaymentRecorded,
    PaymentVoided,
    PostalAddress,
    Version,
)
from debtsale.events import JournalEntryRequested
from debtsale.ledger import ApplicationKind, Ledger
from debtsale.money import Money

__all__ = ["SAMPLE_AGREEMENT_TOML", "Books", "LedgerBuilder", "books", "sample_agreement", "usd"]


def usd(amount: str | int | Decimal) -> Money:
    """Dollars, for brevity in tests."""
    return Money.of(amount, "USD")


SAMPLE_AGREEMENT_TOML = sample_agreement_text()
"""The shipped sample agreement (``debtsale/data/sample_agreement.toml``)."""


def sample_agreement(**changes: Any) -> Agreement:
    """The sample agreement with top-level fields replaced (e.g. ``cutoff_policy="remit"``)."""
    agreement = Agreement.from_toml(SAMPLE_AGREEMENT_TOML)
    return agreement.model_copy(update=changes) if changes else agreement


class LedgerBuilder:
    """Applies realistic changes to a ledger and remembers them for replay tests."""

    def __init__(self, tenant: str = "t1", currency: str = "USD") -> None:
        self.ledger = Ledger(tenant)
        self.currency = currency
        self.changes: list[LedgerChange] = []
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)
        self._ids = count(1)

    def _version(self) -> Version:
        self._clock += timedelta(seconds=1)
        return Version(self._clock, next(self._ids))

    def _apply(self, change: LedgerChange) -> LedgerChange:
        self.changes.append(change)
        self.ledger.apply(change)
        return change

    def _money(self, amount: str | int | Decimal) -> Money:
        return Money.of(amount, self.currency)

    def customer(
        self,
        customer_id: str,
        *,
        region: str = "IL",
        documentation: Documentation = Documentation.INVOICE_ONLY,
        **profile: Any,
    ) -> LedgerChange:
        """Record a customer as a debtor in ``region``."""
        base = DebtorProfile(
            legal_name=f"Debtor {customer_id}",
            address=PostalAddress(("1 Elm St",), "Springfield", region, "62701"),
            documentation=documentation,
        )
        return self._apply(
            CustomerRecorded(
                event_id=f"cust-{customer_id}-{next(self._ids)}",
                version=self._version(),
                customer_id=customer_id,
                profile=replace(base, **profile),
            )
        )

    def invoice(
        self,
        invoice_id: str,
        customer_id: str,
        amount: str | int,
        *,
        invoice_date: date,
        due_date: date | None = None,
    ) -> LedgerChange:
        """Record (or re-record) an invoice."""
        return self._apply(
            InvoiceRecorded(
                event_id=f"inv-{invoice_id}-{next(self._ids)}",
                version=self._version(),
                invoice_id=invoice_id,
                customer_id=customer_id,
                number=f"INV-{invoice_id}",
                invoice_date=invoice_date,
                due_date=due_date or invoice_date + timedelta(days=30),
                total=self._money(amount),
            )
        )

    def pay(
        self,
        payment_id: str,
        customer_id: str,
        paid_on: date,
        allocations: dict[str, str | int],
        *,
        recorded_on: date | None = None,
    ) -> LedgerChange:
        """Record a payment split across invoices (or a change to one)."""
        return self._apply(
            PaymentRecorded(
                event_id=f"pay-{payment_id}-{next(self._ids)}",
                version=self._version(),
                payment_id=payment_id,
                customer_id=customer_id,
                paid_on=paid_on,
                recorded_on=recorded_on or paid_on,
                allocations=tuple(Allocation(i, self._money(a)) for i, a in allocations.items()),
            )
        )

    def credit(
        self, credit_id: str, customer_id: str, credited_on: date, allocations: dict[str, str | int]
    ) -> LedgerChange:
        """Record a credit memo applied to invoices."""
        return self._apply(
            CreditRecorded(
                event_id=f"cm-{credit_id}-{next(self._ids)}",
                version=self._version(),
                credit_id=credit_id,
                customer_id=customer_id,
                credited_on=credited_on,
                recorded_on=credited_on,
                allocations=tuple(Allocation(i, self._money(a)) for i, a in allocations.items()),
            )
        )

    def void_invoice(self, invoice_id: str) -> LedgerChange:
        """Void an invoice."""
        return self._apply(
            InvoiceVoided(
                event_id=f"void-{invoice_id}-{next(self._ids)}",
                version=self._version(),
                invoice_id=invoice_id,
            )
        )

    def delete_invoice(self, invoice_id: str) -> LedgerChange:
        """Delete an invoice."""
        return self._apply(
            InvoiceDeleted(
                event_id=f"del-{invoice_id}-{next(self._ids)}",
                version=self._version(),
                invoice_id=invoice_id,
            )
        )

    def void_payment(self, payment_id: str) -> LedgerChange:
        """Void a payment."""
        return self._apply(
            PaymentVoided(
                event_id=f"pvoid-{payment_id}-{next(self._ids)}",
                version=self._version(),
                payment_id=payment_id,
            )
        )

    def delete_payment(self, payment_id: str) -> LedgerChange:
        """Delete a payment."""
        return self._apply(
            PaymentDeleted(
                event_id=f"pdel-{payment_id}-{next(self._ids)}",
                version=self._version(),
                payment_id=payment_id,
            )
        )

    def merge(self, merged_id: str, into_id: str) -> LedgerChange:
        """Merge one customer into another."""
        return self._apply(
            CustomerMerged(
                event_id=f"merge-{merged_id}-{next(self._ids)}",
                version=self._version(),
                merged_id=merged_id,
                into_id=into_id,
            )
        )


@dataclass
class Books:
    """A general ledger in miniature: balances by account role, AR by customer (debit +)."""

    accounts: dict[str, Money]
    receivable: dict[str, Money]

    def balance(self, account: str, currency: str = "USD") -> Money:
        """The account's balance, debit positive (zero if never posted)."""
        return self.accounts.get(account, Money.zero(currency))

    def customer(self, customer_id: str, currency: str = "USD") -> Money:
        """What the customer owes per Accounts Receivable."""
        return self.receivable.get(customer_id, Money.zero(currency))


def books(ledger: Ledger, entries: Iterable[JournalEntryRequested], currency: str = "USD") -> Books:
    """The books after the platform's own bookings and forwardflow's entries.

    The platform books what the ledger's facts say: an invoice Dr AR (customer) / Cr
    ``revenue``; a payment applied to it Dr ``cash`` / Cr AR; a credit Dr ``revenue`` /
    Cr AR. forwardflow's entries (``JournalEntryRequested``) are added line by line, so a
    test can check that the two together tie out, as an accountant would.
    """
    zero = Money.zero(currency)
    accounts: dict[str, Money] = {}
    receivable: dict[str, Money] = {}

    def post(account: str, amount: Money, customer: str | None = None) -> None:
        accounts[account] = accounts.get(account, zero) + amount
        if account == "accounts_receivable":
            assert customer, "a receivable line names its customer"
            receivable[customer] = receivable.get(customer, zero) + amount

    for item in ledger.receivables():
        if item.removal is not None:
            continue
        post("accounts_receivable", item.original, item.customer_id)
        post("revenue", -item.original)
        for application in item.applications:
            paid = application.kind is ApplicationKind.PAYMENT
            post("cash" if paid else "revenue", application.amount)
            post("accounts_receivable", -application.amount, item.customer_id)
    for entry in entries:
        for account, debit, credit, customer in entry.lines:
            post(account, Money.of(debit, currency) - Money.of(credit, currency), customer)
    return Books(accounts, receivable)
