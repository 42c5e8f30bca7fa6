"""QuickBooks' wire shapes, read tolerantly: unknown fields are ignored, never fatal."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "COALESCED",
    "ENTITY_ID",
    "REALM_ID",
    "ChangeNotice",
    "CloudEvent",
    "LegacyBody",
    "LegacyEntity",
    "QboCustomer",
    "QboInvoice",
    "QboMetaData",
    "QboPayment",
    "QboRef",
    "qbo_json",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


REALM_ID = r"^[0-9]{1,20}$"
"""A QuickBooks company (realm) id: digits only. It becomes part of broker subjects,
ledger tenants and API paths, so nothing else is ever accepted."""

ENTITY_ID = r"^[0-9]{1,20}$"
"""A QuickBooks entity id (Invoice 145, Payment 12 …): digits only, as QuickBooks makes
them. It becomes part of API paths and event ids."""

COALESCED = "coalesced"
"""The operation of a notice standing for a flood of one company's entity notices."""

_EVENT_ID = r"^[\x21-\x7e]{1,160}$"  # printable ASCII: it goes into a broker header
_NAME = r"^[A-Za-z][A-Za-z0-9]{0,39}$"
_SHORT = 64


# ---------------------------------------------------------------- webhooks
class LegacyEntity(_Wire):
    """One changed entity in a legacy ``eventNotifications`` body."""

    name: str = Field(pattern=_NAME)
    id: str = Field(pattern=ENTITY_ID)
    operation: str = Field(pattern=_NAME)
    last_updated: str | None = Field(default=None, alias="lastUpdated", max_length=_SHORT)
    deleted_id: str | None = Field(default=None, alias="deletedId", pattern=ENTITY_ID)


class _DataChangeEvent(_Wire):
    entities: list[LegacyEntity] = []


class _LegacyNotification(_Wire):
    realm_id: str = Field(alias="realmId", pattern=REALM_ID)
    data_change_event: _DataChangeEvent = Field(alias="dataChangeEvent")


class LegacyBody(_Wire):
    """The legacy webhook body."""

    event_notifications: list[_LegacyNotification] = Field(alias="eventNotifications")


class CloudEvent(_Wire):
    """One CloudEvents event (``qbo.invoice.updated.v1`` …)."""

    specversion: str = Field(max_length=_SHORT)
    id: str = Field(pattern=r"^[\x21-\x7e]{1,128}$")
    type: str = Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")
    time: str | None = Field(default=None, max_length=_SHORT)
    intuitentityid: str = Field(pattern=ENTITY_ID)
    intuitaccountid: str = Field(pattern=REALM_ID)
    data: dict[str, Any] | None = None


# ---------------------------------------------------------------- entities
class QboRef(_Wire):
    """A reference to another entity (``{"value": "1", "name": "…"}``)."""

    value: str
    name: str | None = None


class QboMetaData(_Wire):
    """Times with the company's local offset."""

    create_time: datetime | None = Field(default=None, alias="CreateTime")
    last_updated_time: datetime | None = Field(default=None, alias="LastUpdatedTime")


class QboLinkedTxn(_Wire):
    """A link from a payment line to the transaction it pays."""

    txn_id: str = Field(alias="TxnId")
    txn_type: str = Field(alias="TxnType")


class QboLine(_Wire):
    """A transaction line (payment lines carry the links)."""

    amount: Decimal = Field(default=Decimal(0), alias="Amount")
    linked_txn: list[QboLinkedTxn] = Field(default=[], alias="LinkedTxn")


class _Entity(_Wire):
    id: str = Field(alias="Id")
    sync_token: str | None = Field(default=None, alias="SyncToken")
    meta: QboMetaData = Field(default_factory=QboMetaData, alias="MetaData")
    status: str | None = None  # "Deleted" in CDC and delete responses
    private_note: str | None = Field(default=None, alias="PrivateNote")


class QboInvoice(_Entity):
    """An invoice; ``Balance`` is the platform's truth of what is still owed."""

    doc_number: str | None = Field(default=None, alias="DocNumber")
    txn_date: date | None = Field(default=None, alias="TxnDate")
    due_date: date | None = Field(default=None, alias="DueDate")
    total: Decimal = Field(default=Decimal(0), alias="TotalAmt")
    balance: Decimal | None = Field(default=None, alias="Balance")
    customer: QboRef | None = Field(default=None, alias="CustomerRef")
    currency: QboRef | None = Field(default=None, alias="CurrencyRef")


class QboPayment(_Entity):
    """A payment; its lines link it to the invoices (and credit memos) it settles."""

    txn_date: date | None = Field(default=None, alias="TxnDate")
    total: Decimal = Field(default=Decimal(0), alias="TotalAmt")
    customer: QboRef | None = Field(default=None, alias="CustomerRef")
    currency: QboRef | None = Field(default=None, alias="CurrencyRef")
    lines: list[QboLine] = Field(default=[], alias="Line")
    ref_number: str | None = Field(default=None, alias="PaymentRefNum")


class QboAddress(_Wire):
    """A postal address."""

    line1: str | None = Field(default=None, alias="Line1")
    line2: str | None = Field(default=None, alias="Line2")
    line3: str | None = Field(default=None, alias="Line3")
    city: str | None = Field(default=None, alias="City")
    region: str | None = Field(default=None, alias="CountrySubDivisionCode")
    postal_code: str | None = Field(default=None, alias="PostalCode")
    country: str | None = Field(default=None, alias="Country")


class QboEmail(_Wire):
    """An e-mail address."""

    address: str | None = Field(default=None, alias="Address")


class QboCustomer(_Entity):
    """A customer: the debtor."""

    display_name: str | None = Field(default=None, alias="DisplayName")
    company_name: str | None = Field(default=None, alias="CompanyName")
    bill_addr: QboAddress | None = Field(default=None, alias="BillAddr")
    email: QboEmail | None = Field(default=None, alias="PrimaryEmailAddr")
    active: bool = Field(default=True, alias="Active")


class ChangeNotice(_Wire):
    """What a webhook says changed: ids only, the fetcher re-reads the entity.

    ``event_id`` is deterministic (the CloudEvents id, or a hash of the legacy entry), so
    the broker drops a redelivered webhook.
    """

    event_id: str = Field(pattern=_EVENT_ID)
    realm_id: str = Field(pattern=REALM_ID)
    entity: str = Field(pattern=r"^([A-Za-z][A-Za-z0-9]{0,39}|\*)$")  # Invoice, Payment … or *
    entity_id: str = Field(pattern=r"^([0-9]{1,20}|\*)$")
    operation: str = Field(pattern=_NAME)  # created, updated, deleted, merged, voided, emailed
    occurred: datetime | None = None
    deleted_id: str | None = Field(default=None, pattern=ENTITY_ID)  # merged-away id
    coalesced: int = Field(default=0, ge=0)
    """With operation ``coalesced``: how many entity notices this one stands for; the
    fetcher then runs change-data-capture for the company instead of reading each."""

    @property
    def is_coalesced(self) -> bool:
        """True for a company-wide catch-up standing for a flood of entity notices."""
        return self.operation == COALESCED


def qbo_json(data: Any) -> str:
    """JSON as QuickBooks writes it: amounts as numbers (Decimals read back exactly, since a
    float's shortest repr of "150.25" is "150.25")."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(type(value).__name__)

    return json.dumps(data, default=default)
