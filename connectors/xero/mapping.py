"""Xero entities to platform-neutral ledger changes; Xero's quirks stop here.

- Versions come from ``UpdatedDateUTC`` (``/Date(ms)/`` or ISO, both parsed).
- Only sales count: ``ACCREC`` invoices, ``ACCRECPAYMENT`` payments, ``ACCRECCREDIT``
  credit notes and receive overpayments / prepayments.
- Nothing is ever deleted outright: a voided or deleted invoice, payment or credit note
  comes back with ``Status`` VOIDED / DELETED and is mapped to its removal.
- A Xero payment pays exactly one invoice; credit notes, overpayments and prepayments
  reach invoices through ``Allocations``, which become a credit on each invoice.
- forwardflow's own credit notes (the application of its journals; ``Reference`` an
  ``FF`` number) change nothing forwardflow tracks.
- Event ids are deterministic: tenant, entity, id, kind and version.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.xero.schemas import XeroContact, XeroCreditNote, XeroInvoice, XeroPayment
from debtsale.changes import (
    Allocation,
    CreditRecorded,
    CreditRemoved,
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
    "CREDIT_KINDS",
    "contact_change",
    "credit_change",
    "invoice_change",
    "is_forwardflow_reference",
    "payment_change",
    "payment_invoice_id",
]

_REMOVED_SEQUENCE = 2**62  # a removal outranks every version seen at the same instant
_OWN = re.compile(r"FF[0-9a-f]{19}")
CREDIT_KINDS = {
    "CreditNote": "CreditNoteID",
    "Overpayment": "OverpaymentID",
    "Prepayment": "PrepaymentID",
}
_SALES_CREDITS = {"ACCRECCREDIT", "RECEIVE-OVERPAYMENT", "RECEIVE-PREPAYMENT"}


def is_forwardflow_reference(reference: str | None) -> bool:
    """True for a reference forwardflow wrote (``FF`` + 19 hex digits)."""
    return bool(reference) and _OWN.fullmatch(reference or "") is not None


def _version(updated: datetime | None, fallback: datetime, *, removed: bool = False) -> Version:
    when = updated or fallback
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return Version(when.astimezone(UTC), _REMOVED_SEQUENCE if removed else 0)


def _event_id(tenant: str, entity: str, entity_id: str, kind: str, version: Version) -> str:
    stamp = version.updated.isoformat()
    return f"xero:{tenant}:{entity}:{entity_id}:{kind}:{stamp}:{version.sequence}"


def invoice_change(tenant: str, raw: dict[str, Any], seen_at: datetime) -> LedgerChange | None:
    """The ledger change an invoice read means (None for bills and drafts)."""
    invoice = XeroInvoice.model_validate(raw)
    if invoice.type != "ACCREC" or invoice.status in ("DRAFT", "SUBMITTED"):
        return None
    iid = invoice.invoice_id
    if invoice.status in ("VOIDED", "DELETED"):
        version = _version(invoice.updated, seen_at, removed=True)
        kind = "voided" if invoice.status == "VOIDED" else "deleted"
        made = InvoiceVoided if kind == "voided" else InvoiceDeleted
        event_id = _event_id(tenant, "Invoice", iid, kind, version)
        return made(event_id=event_id, version=version, invoice_id=iid)
    version = _version(invoice.updated, seen_at)
    if invoice.contact.contact_id is None or invoice.date is None:
        raise ValueError(f"invoice {iid} has no contact or date")
    return InvoiceRecorded(
        event_id=_event_id(tenant, "Invoice", iid, "recorded", version),
        version=version,
        invoice_id=iid,
        customer_id=invoice.contact.contact_id,
        number=invoice.number or iid,
        invoice_date=invoice.date,
        due_date=invoice.due_date,
        total=Money.of(invoice.total, invoice.currency),
    )


def payment_invoice_id(raw: dict[str, Any]) -> str | None:
    """The invoice a payment pays."""
    return XeroPayment.model_validate(raw).invoice.invoice_id


def payment_change(
    tenant: str, raw: dict[str, Any], seen_at: datetime, currency: str = "USD"
) -> LedgerChange | None:
    """The ledger change a payment read means (None for payments on bills)."""
    payment = XeroPayment.model_validate(raw)
    if payment.payment_type not in ("ACCRECPAYMENT", "ARCREDITPAYMENT", "AROVERPAYMENTPAYMENT"):
        return None
    pid = payment.payment_id
    if payment.status in ("DELETED", "VOIDED"):
        version = _version(payment.updated, seen_at, removed=True)
        kind = "voided" if payment.status == "VOIDED" else "deleted"
        made = PaymentVoided if kind == "voided" else PaymentDeleted
        event_id = _event_id(tenant, "Payment", pid, kind, version)
        return made(event_id=event_id, version=version, payment_id=pid)
    version = _version(payment.updated, seen_at)
    currency = str((raw.get("Invoice") or {}).get("CurrencyCode") or currency)
    invoice = payment.invoice.invoice_id
    customer = payment.invoice.contact_id or _contact_of(raw)
    if invoice is None or customer is None or payment.date is None:
        raise ValueError(f"payment {pid} has no invoice, contact or date")
    return PaymentRecorded(
        event_id=_event_id(tenant, "Payment", pid, "recorded", version),
        version=version,
        payment_id=pid,
        customer_id=customer,
        paid_on=payment.date,
        recorded_on=(payment.updated or seen_at).date(),
        allocations=(Allocation(invoice, Money.of(payment.amount, payment.currency or currency)),),
    )


def _contact_of(raw: dict[str, Any]) -> str | None:
    contact = (raw.get("Invoice") or {}).get("Contact") or {}
    value = contact.get("ContactID")
    return str(value) if value else None


def credit_change(
    tenant: str, raw: dict[str, Any], seen_at: datetime, kind: str = "CreditNote"
) -> LedgerChange | None:
    """A credit note, overpayment or prepayment: its allocations as one credit, or its
    removal when voided or deleted (None for supplier credits and forwardflow's own)."""
    body = {**raw, "CreditNoteID": raw.get(CREDIT_KINDS[kind])}
    note = XeroCreditNote.model_validate(body)
    if note.type not in _SALES_CREDITS or is_forwardflow_reference(note.reference):
        return None
    credit_id = f"{kind}:{note.credit_note_id}"
    if note.status in ("VOIDED", "DELETED"):
        version = _version(note.updated, seen_at, removed=True)
        event_id = _event_id(tenant, kind, note.credit_note_id, "removed", version)
        return CreditRemoved(event_id=event_id, version=version, credit_id=credit_id)
    if note.status != "AUTHORISED" and note.status != "PAID":
        return None
    version = _version(note.updated, seen_at)
    by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    for allocation in note.allocations:
        if allocation.invoice.invoice_id and not allocation.deleted:
            by_invoice[allocation.invoice.invoice_id] += allocation.amount
    if note.contact.contact_id is None or note.date is None:
        raise ValueError(f"{kind} {note.credit_note_id} has no contact or date")
    return CreditRecorded(
        event_id=_event_id(tenant, kind, note.credit_note_id, "recorded", version),
        version=version,
        credit_id=credit_id,
        customer_id=note.contact.contact_id,
        credited_on=note.date,
        recorded_on=(note.updated or seen_at).date(),
        allocations=tuple(
            Allocation(invoice, Money.of(amount, note.currency))
            for invoice, amount in sorted(by_invoice.items())
            if amount > 0
        ),
    )


def contact_change(tenant: str, raw: dict[str, Any], seen_at: datetime) -> LedgerChange:
    """A contact read as a debtor profile (name, postal address, e-mail, tax number)."""
    contact = XeroContact.model_validate(raw)
    version = _version(contact.updated, seen_at)
    postal = next((a for a in contact.addresses if a.address_type == "POBOX"), None) or next(
        iter(contact.addresses), None
    )
    address = PostalAddress(
        tuple(x for x in (postal.line1, postal.line2, postal.line3) if x) if postal else (),
        (postal.city or "") if postal else "",
        (postal.region or "") if postal else "",
        (postal.postal_code or "") if postal else "",
        (postal.country or "US") if postal else "US",
    )
    profile = DebtorProfile(
        legal_name=contact.name or contact.contact_id,
        tax_id=contact.tax_number or "",
        address=address,
        contact=contact.email or "",
    )
    return CustomerRecorded(
        event_id=_event_id(tenant, "Contact", contact.contact_id, "recorded", version),
        version=version,
        customer_id=contact.contact_id,
        profile=profile,
    )
