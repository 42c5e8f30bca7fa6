"""Ledger changes: platform-neutral facts the connectors publish and the ledger applies.

Each change carries the producer's deterministic ``event_id`` and the platform
``version`` of the entity it describes. Snapshots (``…Recorded``) replace what was
known of the entity; removals (``…Voided``/``…Deleted``/``…Removed``) replace it by a
tombstone. The newest version wins, whatever the arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from debtsale.errors import DomainError
from debtsale.money import Money

__all__ = [
    "Allocation",
    "CreditRecorded",
    "CreditRemoved",
    "CustomerMerged",
    "CustomerRecorded",
    "DebtorProfile",
    "Documentation",
    "InvoiceDeleted",
    "InvoiceRecorded",
    "InvoiceVoided",
    "LedgerChange",
    "PaymentDeleted",
    "PaymentRecorded",
    "PaymentVoided",
    "PostalAddress",
    "Version",
]


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A platform version of one entity: last-updated time, then sequence (SyncToken)."""

    updated: datetime
    sequence: int = 0

    def __post_init__(self) -> None:
        if self.updated.tzinfo is None:
            raise DomainError("version.timezone", "a version time needs a UTC offset")


@dataclass(frozen=True, slots=True)
class Allocation:
    """The part of a payment or credit applied to one invoice."""

    invoice_id: str
    amount: Money


class Documentation(StrEnum):
    """How well a debt is documented; buyers pay more for better."""

    SIGNED_CONTRACT = "signed_contract"
    COMMUNICATION_TRAIL = "communication_trail"
    INVOICE_ONLY = "invoice_only"


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A billing address; ``region`` is the US state (or province) code."""

    lines: tuple[str, ...] = ()
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = "US"


@dataclass(frozen=True, slots=True)
class DebtorProfile:
    """What is known of a customer as a debtor: identity, place, and what a buyer prices."""

    legal_name: str
    dba: str = ""
    tax_id: str = ""
    address: PostalAddress = field(default_factory=PostalAddress)
    contact: str = ""
    industry: str = ""
    personal_guarantee: bool = False
    documentation: Documentation = Documentation.INVOICE_ONLY
    medical: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class LedgerChange:
    """Common to every change: the producer's event id and the entity's platform version."""

    event_id: str
    version: Version


@dataclass(frozen=True, kw_only=True, slots=True)
class InvoiceRecorded(LedgerChange):
    """An invoice was created or changed: the whole invoice as the platform now has it."""

    invoice_id: str
    customer_id: str
    number: str
    invoice_date: date
    due_date: date | None
    total: Money
    service_period: tuple[date, date] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class InvoiceVoided(LedgerChange):
    """An invoice was voided: it no longer claims anything."""

    invoice_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class InvoiceDeleted(LedgerChange):
    """An invoice was deleted."""

    invoice_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentRecorded(LedgerChange):
    """A payment was applied or changed: its date, when it was recorded, and its splits."""

    payment_id: str
    customer_id: str
    paid_on: date
    recorded_on: date
    allocations: tuple[Allocation, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentVoided(LedgerChange):
    """A payment was voided: its allocations no longer reduce any invoice."""

    payment_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentDeleted(LedgerChange):
    """A payment was deleted."""

    payment_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CreditRecorded(LedgerChange):
    """A credit memo was applied to invoices (or changed)."""

    credit_id: str
    customer_id: str
    credited_on: date
    recorded_on: date
    allocations: tuple[Allocation, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class CreditRemoved(LedgerChange):
    """A credit memo was voided or deleted."""

    credit_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerRecorded(LedgerChange):
    """A customer was created or changed."""

    customer_id: str
    profile: DebtorProfile


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerMerged(LedgerChange):
    """``merged_id`` was merged into ``into_id``: its invoices are now ``into_id``'s."""

    merged_id: str
    into_id: str
