"""Xero's wire shapes, read tolerantly: unknown fields are ignored, both date spellings parsed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "TENANT_ID",
    "XeroAllocation",
    "XeroContact",
    "XeroCreditNote",
    "XeroEvent",
    "XeroInvoice",
    "XeroNotice",
    "XeroPayment",
    "XeroWebhookBody",
    "parse_xero_time",
    "xero_date",
]

TENANT_ID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
"""A Xero tenant (organisation) id, and every entity id: a GUID. It becomes part of
subjects, ledger tenants and API paths, so nothing else is accepted."""

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_xero_time(value: Any) -> datetime | None:
    """``/Date(1700000000000+0000)/`` or ISO 8601 (Xero leaves the ``Z`` off) as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if match := _MS_DATE.fullmatch(text):
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match[1]))
    text = text.replace("Z", "+00:00")
    if "." in text:  # Xero sends up to 7 fraction digits; Python reads 6
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def xero_date(value: Any) -> date | None:
    """A Xero date (either spelling) as a plain date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    when = parse_xero_time(value)
    return when.date() if when else None


XeroTime = Annotated[datetime | None, BeforeValidator(parse_xero_time)]
XeroDay = Annotated[date | None, BeforeValidator(xero_date)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------- webhooks
class XeroEvent(_Wire):
    """One event of a webhook body (it carries a URL, never the resource)."""

    resource_url: str = Field(alias="resourceUrl", max_length=500)
    resource_id: str = Field(alias="resourceId", pattern=TENANT_ID)
    event_date_utc: str = Field(alias="eventDateUtc", max_length=64)
    event_type: str = Field(alias="eventType", pattern=r"^[A-Z_]{1,20}$")
    event_category: str = Field(alias="eventCategory", pattern=r"^[A-Z_]{1,20}$")
    tenant_id: str = Field(alias="tenantId", pattern=TENANT_ID)
    tenant_type: str = Field(default="ORGANISATION", alias="tenantType", max_length=40)


class XeroWebhookBody(_Wire):
    """A webhook body; an empty ``events`` list is the intent-to-receive probe."""

    events: list[XeroEvent] = []
    first_event_sequence: int = Field(default=0, alias="firstEventSequence")
    last_event_sequence: int = Field(default=0, alias="lastEventSequence")
    entropy: str = Field(default="", max_length=200)


class XeroNotice(_Wire):
    """What forwardflow keeps of an event on the broker: enough to re-read the resource."""

    event_id: str
    tenant_id: str = Field(pattern=TENANT_ID)
    category: str
    resource_id: str = Field(pattern=TENANT_ID)
    event_type: str
    occurred: datetime | None = None


# ---------------------------------------------------------------- entities
class _Ref(_Wire):
    contact_id: str | None = Field(default=None, alias="ContactID")
    invoice_id: str | None = Field(default=None, alias="InvoiceID")
    name: str | None = Field(default=None, alias="Name")
    invoice_number: str | None = Field(default=None, alias="InvoiceNumber")


class XeroAddress(_Wire):
    """A contact's address (``POBOX`` is the postal one)."""

    address_type: str | None = Field(default=None, alias="AddressType")
    line1: str | None = Field(default=None, alias="AddressLine1")
    line2: str | None = Field(default=None, alias="AddressLine2")
    line3: str | None = Field(default=None, alias="AddressLine3")
    city: str | None = Field(default=None, alias="City")
    region: str | None = Field(default=None, alias="Region")
    postal_code: str | None = Field(default=None, alias="PostalCode")
    country: str | None = Field(default=None, alias="Country")


class XeroContact(_Wire):
    """A contact (customers are contacts)."""

    contact_id: str = Field(alias="ContactID")
    name: str | None = Field(default=None, alias="Name")
    email: str | None = Field(default=None, alias="EmailAddress")
    tax_number: str | None = Field(default=None, alias="TaxNumber")
    status: str | None = Field(default=None, alias="ContactStatus")
    addresses: list[XeroAddress] = Field(default=[], alias="Addresses")
    updated: XeroTime = Field(default=None, alias="UpdatedDateUTC")


class XeroAllocation(_Wire):
    """Part of a credit note, overpayment or prepayment applied to an invoice."""

    amount: Decimal = Field(default=Decimal(0), alias="Amount")
    invoice: _Ref = Field(default_factory=_Ref, alias="Invoice")
    date: XeroDay = Field(default=None, alias="Date")
    deleted: bool = Field(default=False, alias="IsDeleted")


class XeroInvoice(_Wire):
    """An invoice; ``AmountDue`` is the truth for what is still owed."""

    invoice_id: str = Field(alias="InvoiceID")
    type: str = Field(default="ACCREC", alias="Type")
    number: str | None = Field(default=None, alias="InvoiceNumber")
    contact: _Ref = Field(default_factory=_Ref, alias="Contact")
    date: XeroDay = Field(default=None, alias="Date")
    due_date: XeroDay = Field(default=None, alias="DueDate")
    status: str = Field(default="AUTHORISED", alias="Status")
    total: Decimal = Field(default=Decimal(0), alias="Total")
    amount_due: Decimal = Field(default=Decimal(0), alias="AmountDue")
    amount_paid: Decimal = Field(default=Decimal(0), alias="AmountPaid")
    amount_credited: Decimal = Field(default=Decimal(0), alias="AmountCredited")
    currency: str = Field(default="USD", alias="CurrencyCode")
    updated: XeroTime = Field(default=None, alias="UpdatedDateUTC")
    payments: list[dict[str, Any]] = Field(default=[], alias="Payments")
    credit_notes: list[dict[str, Any]] = Field(default=[], alias="CreditNotes")


class XeroPayment(_Wire):
    """A payment against one invoice; deletions and voids are ``Status: DELETED``."""

    payment_id: str = Field(alias="PaymentID")
    date: XeroDay = Field(default=None, alias="Date")
    amount: Decimal = Field(default=Decimal(0), alias="Amount")
    status: str = Field(default="AUTHORISED", alias="Status")
    payment_type: str = Field(default="ACCRECPAYMENT", alias="PaymentType")
    invoice: _Ref = Field(default_factory=_Ref, alias="Invoice")
    currency: str | None = Field(default=None, alias="CurrencyCode")
    reference: str | None = Field(default=None, alias="Reference")
    updated: XeroTime = Field(default=None, alias="UpdatedDateUTC")


class XeroCreditNote(_Wire):
    """A credit note (or overpayment / prepayment: the same shape) and its allocations."""

    credit_note_id: str = Field(alias="CreditNoteID")
    type: str = Field(default="ACCRECCREDIT", alias="Type")
    number: str | None = Field(default=None, alias="CreditNoteNumber")
    reference: str | None = Field(default=None, alias="Reference")
    contact: _Ref = Field(default_factory=_Ref, alias="Contact")
    date: XeroDay = Field(default=None, alias="Date")
    status: str = Field(default="AUTHORISED", alias="Status")
    currency: str = Field(default="USD", alias="CurrencyCode")
    allocations: list[XeroAllocation] = Field(default=[], alias="Allocations")
    updated: XeroTime = Field(default=None, alias="UpdatedDateUTC")
