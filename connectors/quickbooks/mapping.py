"""QuickBooks entities to platform-neutral ledger changes; QuickBooks' quirks stop here.

- Versions come from ``MetaData.LastUpdatedTime`` then ``SyncToken``, so an older read
  never overwrites a newer one downstream.
- A voided transaction keeps its record with zero amounts (``PrivateNote`` "Voided");
  a deleted one comes back as ``status: "Deleted"`` with only its id.
- Payments link to invoices through ``Line[].LinkedTxn``; a zero-total payment moves
  no money: one that links a credit memo or a journal entry is that credit being
  applied, and forwardflow's own (its ``PaymentRefNum`` is an ``FF`` number: the sale's
  and later entries applied to the sold invoices) is no change to the ledger at all —
  never a collection on a sold receivable, never a change of face.
- Event ids are deterministic: realm, entity, id and version.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.quickbooks.schemas import QboCustomer, QboInvoice, QboPayment
from connectors.quickbooks.writeback import is_forwardflow_number
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
    PostalAddress,
    Version,
)
from debtsale.money import Money

__all__ = [
    "credit_removed",
    "credits_undone",
    "customer_change",
    "invoice_change",
    "invoices_linked",
    "is_own_application",
    "merge_change",
    "payment_change",
    "payment_invoice_ids",
]

_DELETED_SEQUENCE = 2**62  # a deletion outranks every version seen at the same instant


def _version(meta_time: datetime | None, sync_token: str | None, fallback: datetime) -> Version:
    when = meta_time or fallback
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    sequence = int(sync_token) if sync_token and sync_token.isdigit() else 0
    return Version(when.astimezone(UTC), sequence)


def _deleted_version(meta_time: datetime | None, seen_at: datetime) -> Version:
    """A deletion's version: when it happened, outranking any version of that instant."""
    return Version(_version(meta_time, None, seen_at).updated, _DELETED_SEQUENCE)


def _event_id(realm: str, entity: str, entity_id: str, version: Version, kind: str) -> str:
    return (
        f"qbo:{realm}:{entity}:{entity_id}:{kind}:{version.updated.isoformat()}:{version.sequence}"
    )


def _voided(private_note: str | None, total: Decimal) -> bool:
    return total == 0 and bool(private_note) and "void" in (private_note or "").lower()


def invoice_change(realm: str, raw: dict[str, Any], seen_at: datetime) -> LedgerChange:
    """The ledger change an invoice read (or CDC row) means."""
    invoice = QboInvoice.model_validate(raw)
    if invoice.status == "Deleted":
        version = _deleted_version(invoice.meta.last_updated_time, seen_at)
        return InvoiceDeleted(
            event_id=_event_id(realm, "Invoice", invoice.id, version, "deleted"),
            version=version,
            invoice_id=invoice.id,
        )
    version = _version(invoice.meta.last_updated_time, invoice.sync_token, seen_at)
    if _voided(invoice.private_note, invoice.total):
        return InvoiceVoided(
            event_id=_event_id(realm, "Invoice", invoice.id, version, "voided"),
            version=version,
            invoice_id=invoice.id,
        )
    currency = invoice.currency.value if invoice.currency else "USD"
    if invoice.customer is None or invoice.txn_date is None:
        raise ValueError(f"invoice {invoice.id} has no customer or date")
    return InvoiceRecorded(
        event_id=_event_id(realm, "Invoice", invoice.id, version, "recorded"),
        version=version,
        invoice_id=invoice.id,
        customer_id=invoice.customer.value,
        number=invoice.doc_number or invoice.id,
        invoice_date=invoice.txn_date,
        due_date=invoice.due_date,
        total=Money.of(invoice.total, currency),
    )


def _own(payment: QboPayment) -> bool:
    return payment.total == 0 and is_forwardflow_number(payment.ref_number)


def is_own_application(raw: dict[str, Any]) -> bool:
    """True for the zero-total payments forwardflow writes to apply its journal entries."""
    return raw.get("status") != "Deleted" and _own(QboPayment.model_validate(raw))


_CREDIT_LINK = "credit:"
"""How a remembered link names the credit a payment applied (``credit:<memo>``), beside
the invoices it paid: a void or delete says nothing, and the credit must be withdrawn."""


def _credit_sources(payment: QboPayment) -> list[str]:
    sources = []
    for line in payment.lines:
        for link in line.linked_txn:
            if link.txn_type == "CreditMemo":
                sources.append(link.txn_id)
            elif link.txn_type == "JournalEntry":  # a journal credit applied (write-off …)
                sources.append(f"JE-{link.txn_id}")
    return sources


def payment_invoice_ids(raw: dict[str, Any]) -> set[str]:
    """What a payment read links, for forwardflow's own link store: the invoices it pays,
    and ``credit:<memo>`` when it applies a credit (see ``credits_undone``)."""
    payment = QboPayment.model_validate(raw)
    if _own(payment):
        return set()
    invoices = {
        link.txn_id
        for line in payment.lines
        for link in line.linked_txn
        if link.txn_type == "Invoice"
    }
    sources = _credit_sources(payment)
    if sources and payment.total == 0:
        invoices.add(f"{_CREDIT_LINK}{sources[0]}")
    return invoices


def invoices_linked(linked: set[str]) -> set[str]:
    """The invoices among remembered links (credits left out)."""
    return {link for link in linked if not link.startswith(_CREDIT_LINK)}


def credits_undone(
    realm: str, payment_id: str, linked: set[str], seen_at: datetime
) -> list[LedgerChange]:
    """The credit applications a voided or deleted payment had made, withdrawn."""
    return [
        credit_removed(realm, link.removeprefix(_CREDIT_LINK), payment_id, seen_at)
        for link in sorted(linked)
        if link.startswith(_CREDIT_LINK)
    ]


def payment_change(
    realm: str, raw: dict[str, Any], seen_at: datetime, *, voided: bool = False
) -> LedgerChange | None:
    """The ledger change a payment read means: applied, voided, deleted or a credit applied.

    None for forwardflow's own applications: they change nothing forwardflow tracks.
    """
    payment = QboPayment.model_validate(raw)
    if payment.status == "Deleted":
        version = _deleted_version(payment.meta.last_updated_time, seen_at)
        return PaymentDeleted(
            event_id=_event_id(realm, "Payment", payment.id, version, "deleted"),
            version=version,
            payment_id=payment.id,
        )
    if _own(payment):
        return None
    version = _version(payment.meta.last_updated_time, payment.sync_token, seen_at)
    if voided or _voided(payment.private_note, payment.total):
        return PaymentVoided(
            event_id=_event_id(realm, "Payment", payment.id, version, "voided"),
            version=version,
            payment_id=payment.id,
        )
    currency = payment.currency.value if payment.currency else "USD"
    by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    for line in payment.lines:
        for link in line.linked_txn:
            if link.txn_type == "Invoice":
                by_invoice[link.txn_id] += line.amount
    credits = _credit_sources(payment)
    if payment.customer is None or payment.txn_date is None:
        raise ValueError(f"payment {payment.id} has no customer or date")
    allocations = tuple(
        Allocation(invoice_id, Money.of(amount, currency))
        for invoice_id, amount in sorted(by_invoice.items())
        if amount > 0
    )
    recorded_on = (payment.meta.create_time or seen_at).date()
    if credits and payment.total == 0:
        credit_id = credits[0]
        return CreditRecorded(
            event_id=_event_id(realm, "CreditMemo", credit_id, version, f"applied-by-{payment.id}"),
            version=version,
            credit_id=f"{credit_id}@{payment.id}",
            customer_id=payment.customer.value,
            credited_on=payment.txn_date,
            recorded_on=recorded_on,
            allocations=allocations,
        )
    return PaymentRecorded(
        event_id=_event_id(realm, "Payment", payment.id, version, "recorded"),
        version=version,
        payment_id=payment.id,
        customer_id=payment.customer.value,
        paid_on=payment.txn_date,
        recorded_on=recorded_on,
        allocations=allocations,
    )


def credit_removed(realm: str, credit_id: str, payment_id: str, seen_at: datetime) -> LedgerChange:
    """A credit-memo application undone (its applying payment voided or deleted)."""
    version = Version(seen_at.astimezone(UTC), _DELETED_SEQUENCE)
    return CreditRemoved(
        event_id=_event_id(realm, "CreditMemo", credit_id, version, f"removed-by-{payment_id}"),
        version=version,
        credit_id=f"{credit_id}@{payment_id}",
    )


def customer_change(realm: str, raw: dict[str, Any], seen_at: datetime) -> LedgerChange:
    """A customer read as a debtor profile (name, address, contact; nothing else)."""
    customer = QboCustomer.model_validate(raw)
    version = _version(customer.meta.last_updated_time, customer.sync_token, seen_at)
    address = customer.bill_addr
    legal = customer.company_name or customer.display_name or customer.id
    profile = DebtorProfile(
        legal_name=legal,
        dba=customer.display_name
        if customer.display_name and customer.display_name != legal
        else "",
        address=PostalAddress(
            tuple(x for x in (address.line1, address.line2, address.line3) if x) if address else (),
            (address.city or "") if address else "",
            (address.region or "") if address else "",
            (address.postal_code or "") if address else "",
            (address.country or "US") if address else "US",
        ),
        contact=customer.email.address or "" if customer.email else "",
    )
    return CustomerRecorded(
        event_id=_event_id(realm, "Customer", customer.id, version, "recorded"),
        version=version,
        customer_id=customer.id,
        profile=profile,
    )


def merge_change(realm: str, merged_id: str, into_id: str, occurred: datetime) -> LedgerChange:
    """``merged_id`` was merged into ``into_id`` (the webhook's ``deletedId``)."""
    version = Version(occurred.astimezone(UTC), _DELETED_SEQUENCE)
    return CustomerMerged(
        event_id=_event_id(realm, "Customer", merged_id, version, f"merged-into-{into_id}"),
        version=version,
        merged_id=merged_id,
        into_id=into_id,
    )
