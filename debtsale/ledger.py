"""The ledger's facts for one tenant, kept current from ledger changes in any order.

Every entity (invoice, payment, credit, customer, merge) is a last-writer-wins
register ordered by platform version, so a shuffled stream with duplicates ends in
the same facts as the ordered stream applied once. Face values are computed from the
facts, never stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Generic, TypeVar

from debtsale.changes import (
    Allocation,
    CreditRecorded,
    CreditRemoved,
    CustomerMerged,
    CustomerRecorded,
    DebtorProfile,
    InvoiceDeleted,
    InvoiceRecorded,
    InvoiceVoided,
    LedgerChange,
    PaymentDeleted,
    PaymentRecorded,
    PaymentVoided,
    Version,
)
from debtsale.errors import DomainError
from debtsale.money import Money, total

__all__ = [
    "Application",
    "ApplicationKind",
    "EntityKind",
    "Ledger",
    "Receivable",
    "Removal",
    "entity_of",
    "invoices_named",
]

T = TypeVar("T")


class Removal(StrEnum):
    """Why an entity no longer counts."""

    VOIDED = "voided"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    version: Version
    value: T | Removal


class _Registers(Generic[T]):
    """Entities by id; a change lands only if its version is newer than the one held."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry[T]] = {}

    def put(self, key: str, version: Version, value: T | Removal) -> bool:
        held = self._entries.get(key)
        if held is not None and held.version >= version:
            return False  # a duplicate or a stale change: the newer fact stays
        self._entries[key] = _Entry(version, value)
        return True

    def get(self, key: str) -> T | Removal | None:
        entry = self._entries.get(key)
        return entry.value if entry else None

    def version(self, key: str) -> Version | None:
        entry = self._entries.get(key)
        return entry.version if entry else None

    def live(self) -> Iterator[tuple[str, T]]:
        for key, entry in self._entries.items():
            if not isinstance(entry.value, Removal):
                yield key, entry.value

    def __len__(self) -> int:
        return len(self._entries)


class EntityKind(StrEnum):
    """The register a ledger change writes to."""

    INVOICE = "invoice"
    PAYMENT = "payment"
    CREDIT = "credit"
    CUSTOMER = "customer"
    MERGE = "merge"


def entity_of(change: LedgerChange) -> tuple[EntityKind, str]:
    """Which entity a change describes: its register and platform id."""
    match change:
        case InvoiceRecorded() | InvoiceVoided() | InvoiceDeleted():
            return EntityKind.INVOICE, change.invoice_id
        case PaymentRecorded() | PaymentVoided() | PaymentDeleted():
            return EntityKind.PAYMENT, change.payment_id
        case CreditRecorded() | CreditRemoved():
            return EntityKind.CREDIT, change.credit_id
        case CustomerRecorded():
            return EntityKind.CUSTOMER, change.customer_id
        case CustomerMerged():
            return EntityKind.MERGE, change.merged_id
    raise DomainError("ledger.change", f"unknown ledger change {type(change).__name__}")


def invoices_named(change: LedgerChange) -> frozenset[str]:
    """The invoices a change itself names: the invoice, or where a payment or credit went.

    A void or delete of a payment or credit names none: what it touched is in the version
    it replaces, which the store holds (see ``LedgerStore.touched``).
    """
    match change:
        case InvoiceRecorded() | InvoiceVoided() | InvoiceDeleted():
            return frozenset({change.invoice_id})
        case PaymentRecorded() | CreditRecorded():
            return frozenset(a.invoice_id for a in change.allocations)
    return frozenset()


class ApplicationKind(StrEnum):
    """What reduced an invoice."""

    PAYMENT = "payment"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class Application:
    """One payment or credit applied to one invoice."""

    source_id: str
    kind: ApplicationKind
    amount: Money
    effective: date
    recorded: date

    @property
    def key(self) -> str:
        """Identifies the application across versions of its payment or credit."""
        return f"{self.kind}:{self.source_id}"


@dataclass(frozen=True, slots=True)
class Receivable:
    """One invoice as a debt: its terms and everything applied to it."""

    id: str
    customer_id: str
    number: str
    invoice_date: date
    due_date: date | None
    original: Money
    service_period: tuple[date, date] | None
    applications: tuple[Application, ...]
    removal: Removal | None = None

    @property
    def currency(self) -> str:
        """The invoice's currency."""
        return self.original.currency

    @property
    def default_date(self) -> date:
        """When it fell due: the due date, or the invoice date when there is none."""
        return self.due_date or self.invoice_date

    def days_past_due(self, as_of: date) -> int:
        """``as_of − due date`` (negative before it falls due)."""
        return (as_of - self.default_date).days

    def applied(self, through: date | None = None) -> Money:
        """Payments and credits effective on or before ``through`` (all when None)."""
        return total(
            (a.amount for a in self.applications if through is None or a.effective <= through),
            self.currency,
        )

    def face_on(self, day: date) -> Money:
        """The open balance on ``day``: original less what was applied by then, never < 0."""
        if self.removal is not None:
            return Money.zero(self.currency)
        return (self.original - self.applied(day)).max(Money.zero(self.currency))

    @property
    def balance(self) -> Money:
        """The open balance now, counting every application whatever its date."""
        if self.removal is not None:
            return Money.zero(self.currency)
        return (self.original - self.applied()).max(Money.zero(self.currency))

    def payments(self) -> tuple[Application, ...]:
        """The payments (not credits), oldest first."""
        return tuple(a for a in self.applications if a.kind is ApplicationKind.PAYMENT)

    def last_payment(self, through: date | None = None) -> Application | None:
        """The latest payment effective on or before ``through``."""
        candidates = [p for p in self.payments() if through is None or p.effective <= through]
        return max(candidates, key=lambda p: (p.effective, p.source_id), default=None)

    def first_delinquency(self) -> date:
        """The date of first delinquency: the day after it fell due."""
        return date.fromordinal(self.default_date.toordinal() + 1)


class Ledger:
    """A tenant's invoices, payments, credits and customers, as the newest versions say."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self._invoices: _Registers[InvoiceRecorded] = _Registers()
        self._payments: _Registers[PaymentRecorded] = _Registers()
        self._credits: _Registers[CreditRecorded] = _Registers()
        self._customers: _Registers[DebtorProfile] = _Registers()
        self._merges: _Registers[str] = _Registers()
        self._index: dict[str, list[Application]] | None = None  # applications by invoice

    # ------------------------------------------------------------------ applying
    def apply(self, change: LedgerChange) -> bool:
        """Apply one change; False when it was a duplicate or older than what is held."""
        self._index = None  # what is applied to which invoice may change
        match change:
            case InvoiceRecorded():
                return self._invoices.put(change.invoice_id, change.version, change)
            case InvoiceVoided():
                return self._invoices.put(change.invoice_id, change.version, Removal.VOIDED)
            case InvoiceDeleted():
                return self._invoices.put(change.invoice_id, change.version, Removal.DELETED)
            case PaymentRecorded():
                return self._payments.put(change.payment_id, change.version, change)
            case PaymentVoided():
                return self._payments.put(change.payment_id, change.version, Removal.VOIDED)
            case PaymentDeleted():
                return self._payments.put(change.payment_id, change.version, Removal.DELETED)
            case CreditRecorded():
                return self._credits.put(change.credit_id, change.version, change)
            case CreditRemoved():
                return self._credits.put(change.credit_id, change.version, Removal.DELETED)
            case CustomerRecorded():
                return self._customers.put(change.customer_id, change.version, change.profile)
            case CustomerMerged():
                if change.merged_id == change.into_id:
                    raise DomainError("merge.distinct", "a customer cannot merge into itself")
                return self._merges.put(change.merged_id, change.version, change.into_id)
        raise DomainError("ledger.change", f"unknown ledger change {type(change).__name__}")

    # ------------------------------------------------------------------ reading
    def customer_of(self, customer_id: str) -> str:
        """The surviving customer id after any chain of merges."""
        seen = {customer_id}
        while True:
            into = self._merges.get(customer_id)
            if not isinstance(into, str) or into in seen:
                return customer_id
            seen.add(into)
            customer_id = into

    def profile(self, customer_id: str) -> DebtorProfile | None:
        """What is known of the (surviving) customer."""
        found = self._customers.get(self.customer_of(customer_id))
        return found if isinstance(found, DebtorProfile) else None

    def touched_by(self, change: LedgerChange) -> frozenset[str]:
        """Invoices ``change`` names and those the version it would replace names."""
        held: PaymentRecorded | CreditRecorded | Removal | None = None
        match change:
            case PaymentRecorded() | PaymentVoided() | PaymentDeleted():
                held = self._payments.get(change.payment_id)
            case CreditRecorded() | CreditRemoved():
                held = self._credits.get(change.credit_id)
        named = invoices_named(change)
        return named | invoices_named(held) if isinstance(held, LedgerChange) else named

    def payment_invoices(self, payment_id: str) -> tuple[str, ...]:
        """The invoices a payment is (or, if removed, was last known to be) applied to."""
        found = self._payments.get(payment_id)
        if isinstance(found, PaymentRecorded):
            return tuple(a.invoice_id for a in found.allocations)
        return ()

    def _applications(self) -> dict[str, list[Application]]:
        """Applications by invoice, built once per state of the ledger (reads are many)."""
        if self._index is None:
            self._index = self._build_applications()
        return self._index

    def _build_applications(self) -> dict[str, list[Application]]:
        by_invoice: dict[str, list[Application]] = {}

        def add(
            source: str,
            kind: ApplicationKind,
            allocations: tuple[Allocation, ...],
            effective: date,
            recorded: date,
        ) -> None:
            for allocation in allocations:
                by_invoice.setdefault(allocation.invoice_id, []).append(
                    Application(source, kind, allocation.amount, effective, recorded)
                )

        for payment_id, payment in self._payments.live():
            add(
                payment_id,
                ApplicationKind.PAYMENT,
                payment.allocations,
                payment.paid_on,
                payment.recorded_on,
            )
        for credit_id, credit in self._credits.live():
            add(
                credit_id,
                ApplicationKind.CREDIT,
                credit.allocations,
                credit.credited_on,
                credit.recorded_on,
            )
        return by_invoice

    def _receivable(self, invoice_id: str, applications: list[Application]) -> Receivable | None:
        found = self._invoices.get(invoice_id)
        if found is None:
            return None
        if isinstance(found, Removal):
            placeholder = Money.zero("USD")
            return Receivable(invoice_id, "", "", date.min, None, placeholder, None, (), found)
        ordered = tuple(
            sorted(
                (a for a in applications if a.amount.currency == found.total.currency),
                key=lambda a: (a.effective, a.recorded, a.key, a.amount.amount),
            )
        )
        return Receivable(
            id=invoice_id,
            customer_id=self.customer_of(found.customer_id),
            number=found.number,
            invoice_date=found.invoice_date,
            due_date=found.due_date,
            original=found.total,
            service_period=found.service_period,
            applications=ordered,
        )

    def receivable(self, invoice_id: str) -> Receivable | None:
        """The invoice with everything applied to it, or None if never seen."""
        return self._receivable(invoice_id, self._applications().get(invoice_id, []))

    def receivables(self) -> Iterator[Receivable]:
        """Every invoice ever seen (voided and deleted ones carry their removal)."""
        applications = self._applications()
        for invoice_id in sorted(self._invoices._entries):
            found = self._receivable(invoice_id, applications.get(invoice_id, []))
            if found is not None:
                yield found

    def snapshot(self) -> dict[str, object]:
        """Every fact held, in a canonical form: equal ledgers give equal snapshots."""

        def entries(registers: _Registers[T]) -> dict[str, tuple[Version, object]]:
            return {k: (e.version, e.value) for k, e in sorted(registers._entries.items())}

        return {
            "invoices": entries(self._invoices),
            "payments": entries(self._payments),
            "credits": entries(self._credits),
            "customers": entries(self._customers),
            "merges": entries(self._merges),
        }
