"""One emulated Xero organisation: contacts, invoices, payments, credit notes, journals.

Rows are kept as Xero answers them (PascalCase, ``/Date(ms+0000)/`` times). Nothing is
ever removed: voids and deletions are status changes with a new ``UpdatedDateUTC``, as
in Xero. Every change is told to the listeners (the webhook sender) as
``(category, resource id, CREATE|UPDATE)`` — payments have no events, as in Xero.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = ["Change", "EmulatedOrganisation", "ms_date", "xero_time"]

_CENT = Decimal("0.01")


def ms_date(day: date) -> str:
    """A date as Xero's JSON spells it: ``/Date(ms+0000)/``."""
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return f"/Date({int(when.timestamp() * 1000)}+0000)/"


def xero_time(when: datetime) -> str:
    """A timestamp as Xero's JSON spells it."""
    return f"/Date({int(when.timestamp() * 1000)}+0000)/"


@dataclass(frozen=True, slots=True)
class Change:
    """What a webhook announces: category, resource id, event type, when."""

    category: str
    resource_id: str
    event_type: str
    at: datetime


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(_CENT)


@dataclass
class EmulatedOrganisation:
    """A Xero organisation (tenant) in memory; thread-safe."""

    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    name: str = "Demo Company (US)"
    currency: str = "USD"
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    credit_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    manual_journals: dict[str, dict[str, Any]] = field(default_factory=dict)
    listeners: list[Callable[[EmulatedOrganisation, Change], None]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    _updated: dict[str, datetime] = field(default_factory=dict)
    _on_invoice: dict[str, list[str]] = field(default_factory=dict)  # payments, credit notes
    _last: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------ time and events
    def clock(self) -> datetime:
        """Now, strictly after every earlier stamp (whole milliseconds, as Xero keeps)."""
        now = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        self._last = max(now, self._last + timedelta(milliseconds=1))
        return self._last

    def _touch(self, row: dict[str, Any], key: str, category: str | None, kind: str) -> None:
        at = self.clock()
        row["UpdatedDateUTC"] = xero_time(at)
        self._updated[row[key]] = at
        if category is not None:
            change = Change(category, row[key], kind, at)
            self.changes.append(change)
            for listener in list(self.listeners):
                listener(self, change)

    def updated(self, resource_id: str) -> datetime:
        """When a row last changed."""
        return self._updated[resource_id]

    # ------------------------------------------------------------ contacts
    def add_contact(self, name: str, **fields: Any) -> dict[str, Any]:
        """A customer contact."""
        with self._lock:
            row = {
                "ContactID": str(uuid.uuid4()),
                "Name": name,
                "ContactStatus": "ACTIVE",
                "IsCustomer": True,
                **fields,
            }
            self.contacts[row["ContactID"]] = row
            self._touch(row, "ContactID", "CONTACT", "CREATE")
            return copy.deepcopy(row)

    def update_contact(self, contact_id: str, **fields: Any) -> dict[str, Any]:
        """Change a contact (name, e-mail, addresses …)."""
        with self._lock:
            row = self.contacts[contact_id]
            row.update(fields)
            self._touch(row, "ContactID", "CONTACT", "UPDATE")
            return copy.deepcopy(row)

    # ------------------------------------------------------------ invoices
    def add_invoice(
        self,
        contact_id: str,
        amount: Any,
        issued: date,
        due: date | None = None,
        number: str | None = None,
    ) -> dict[str, Any]:
        """An authorised sales invoice of one line."""
        with self._lock:
            total = _money(amount)
            contact = self.contacts[contact_id]
            row: dict[str, Any] = {
                "Type": "ACCREC",
                "InvoiceID": str(uuid.uuid4()),
                "InvoiceNumber": number or f"INV-{len(self.invoices) + 1:05d}",
                "Contact": {"ContactID": contact_id, "Name": contact["Name"]},
                "Date": ms_date(issued),
                "DueDate": ms_date(due or issued + timedelta(days=30)),
                "Status": "AUTHORISED",
                "LineAmountTypes": "NoTax",
                "LineItems": [
                    {
                        "Description": "Professional services",
                        "Quantity": 1,
                        "UnitAmount": total,
                        "LineAmount": total,
                        "AccountCode": "200",
                    }
                ],
                "SubTotal": total,
                "TotalTax": Decimal("0.00"),
                "Total": total,
                "AmountDue": total,
                "AmountPaid": Decimal("0.00"),
                "AmountCredited": Decimal("0.00"),
                "CurrencyCode": self.currency,
                "Payments": [],
                "CreditNotes": [],
                "Overpayments": [],
                "Prepayments": [],
            }
            self.invoices[row["InvoiceID"]] = row
            self._touch(row, "InvoiceID", "INVOICE", "CREATE")
            return copy.deepcopy(row)

    def _recompute(self, invoice_id: str) -> None:
        """Amounts paid, credited and due from the live payments and allocations."""
        row = self.invoices[invoice_id]
        linked = self._on_invoice.get(invoice_id, [])
        paid = [
            p
            for key in linked
            if (p := self.payments.get(key)) is not None and p["Status"] == "AUTHORISED"
        ]
        credits = [
            (note, alloc)
            for key in linked
            if (note := self.credit_notes.get(key)) is not None
            and note["Status"] in ("AUTHORISED", "PAID")
            for alloc in note["Allocations"]
            if alloc["Invoice"]["InvoiceID"] == invoice_id
        ]
        row["AmountPaid"] = sum((p["Amount"] for p in paid), Decimal("0.00"))
        row["AmountCredited"] = sum((a["Amount"] for _, a in credits), Decimal("0.00"))
        row["Payments"] = [
            {"PaymentID": p["PaymentID"], "Date": p["Date"], "Amount": p["Amount"]} for p in paid
        ]
        row["CreditNotes"] = [
            {"CreditNoteID": n["CreditNoteID"], "AppliedAmount": a["Amount"]} for n, a in credits
        ]
        if row["Status"] in ("AUTHORISED", "PAID"):
            row["AmountDue"] = row["Total"] - row["AmountPaid"] - row["AmountCredited"]
            row["Status"] = "PAID" if row["AmountDue"] <= 0 else "AUTHORISED"
        self._touch(row, "InvoiceID", "INVOICE", "UPDATE")

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Void an invoice (it stays, ``Status: VOIDED``, nothing due)."""
        with self._lock:
            row = self.invoices[invoice_id]
            row.update(Status="VOIDED", AmountDue=Decimal("0.00"))
            self._touch(row, "InvoiceID", "INVOICE", "UPDATE")
            return copy.deepcopy(row)

    # ------------------------------------------------------------ payments
    def pay(self, invoice_id: str, amount: Any, paid_on: date) -> dict[str, Any]:
        """A payment against one invoice (no event: Xero sends none for payments; the
        invoice's UPDATE event is sent)."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            value = _money(amount)
            if value <= 0:  # more than is due is let through, as the QuickBooks emulator
                raise ValueError(f"a payment of {value} moves no money")  # does: a collection
            if invoice["Status"] not in ("AUTHORISED", "PAID"):  # on a sold, closed invoice
                raise ValueError(f"invoice {invoice_id} is {invoice['Status']}")
            row: dict[str, Any] = {
                "PaymentID": str(uuid.uuid4()),
                "Date": ms_date(paid_on),
                "Amount": value,
                "Status": "AUTHORISED",
                "PaymentType": "ACCRECPAYMENT",
                "IsReconciled": False,
                "Account": {"AccountID": "090", "Code": "090"},
                "Invoice": {
                    "InvoiceID": invoice_id,
                    "InvoiceNumber": invoice["InvoiceNumber"],
                    "Contact": dict(invoice["Contact"]),
                    "CurrencyCode": invoice["CurrencyCode"],
                },
            }
            self.payments[row["PaymentID"]] = row
            self._on_invoice.setdefault(invoice_id, []).append(row["PaymentID"])
            self._touch(row, "PaymentID", None, "CREATE")
            self._recompute(invoice_id)
            return copy.deepcopy(row)

    def delete_payment(self, payment_id: str) -> dict[str, Any]:
        """Delete (or void) a payment: ``Status: DELETED``; the invoice is due again."""
        with self._lock:
            row = self.payments[payment_id]
            row["Status"] = "DELETED"
            self._touch(row, "PaymentID", None, "UPDATE")
            self._recompute(row["Invoice"]["InvoiceID"])
            return copy.deepcopy(row)

    # ------------------------------------------------------------ credit notes
    def add_credit_note(
        self,
        contact_id: str,
        amount: Any,
        issued: date,
        allocations: dict[str, Any] | None = None,
        reference: str | None = None,
        account_code: str = "200",
    ) -> dict[str, Any]:
        """A sales credit note of one line, allocated to invoices (``{invoice: amount}``)."""
        with self._lock:
            total = _money(amount)
            row: dict[str, Any] = {
                "CreditNoteID": str(uuid.uuid4()),
                "CreditNoteNumber": f"CN-{len(self.credit_notes) + 1:05d}",
                "Reference": reference or "",
                "Type": "ACCRECCREDIT",
                "Contact": {"ContactID": contact_id, "Name": self.contacts[contact_id]["Name"]},
                "Date": ms_date(issued),
                "Status": "AUTHORISED",
                "LineAmountTypes": "NoTax",
                "LineItems": [
                    {
                        "Description": "Credit",
                        "Quantity": 1,
                        "UnitAmount": total,
                        "LineAmount": total,
                        "AccountCode": account_code,
                    }
                ],
                "Total": total,
                "RemainingCredit": total,
                "CurrencyCode": self.currency,
                "Allocations": [],
            }
            self.credit_notes[row["CreditNoteID"]] = row
            self._touch(row, "CreditNoteID", "CREDITNOTE", "CREATE")
            if allocations:
                self.allocate(row["CreditNoteID"], allocations, issued)
            return copy.deepcopy(self.credit_notes[row["CreditNoteID"]])

    def allocate(
        self, credit_note_id: str, allocations: dict[str, Any], on: date
    ) -> dict[str, Any]:
        """Allocate a credit note to invoices; never more than it has left or they owe."""
        with self._lock:
            row = self.credit_notes[credit_note_id]
            parts = {invoice: _money(part) for invoice, part in allocations.items()}
            if row["Status"] != "AUTHORISED" or sum(parts.values()) > row["RemainingCredit"]:
                raise ValueError("the credit note has not that much credit left")
            for invoice_id, part in parts.items():
                if part <= 0 or part > self.invoices[invoice_id]["AmountDue"]:
                    raise ValueError(f"{part} is more than invoice {invoice_id} owes")
            for invoice_id, part in parts.items():
                self._on_invoice.setdefault(invoice_id, []).append(credit_note_id)
                row["Allocations"].append(
                    {
                        "AllocationID": str(uuid.uuid4()),
                        "Amount": part,
                        "Date": ms_date(on),
                        "Invoice": {"InvoiceID": invoice_id},
                    }
                )
            row["RemainingCredit"] -= sum(parts.values())
            if row["RemainingCredit"] == 0:
                row["Status"] = "PAID"
            self._touch(row, "CreditNoteID", "CREDITNOTE", "UPDATE")
            for invoice_id in parts:
                self._recompute(invoice_id)
            return copy.deepcopy(row)

    def delete_allocation(self, credit_note_id: str, allocation_id: str) -> bool:
        """Take one allocation back: the invoice owes it again, the note has it to give."""
        with self._lock:
            row = self.credit_notes[credit_note_id]
            found = [a for a in row["Allocations"] if a.get("AllocationID") == allocation_id]
            if not found:
                return False
            row["Allocations"].remove(found[0])
            row["RemainingCredit"] += found[0]["Amount"]
            row["Status"] = "AUTHORISED"
            self._touch(row, "CreditNoteID", "CREDITNOTE", "UPDATE")
            self._recompute(found[0]["Invoice"]["InvoiceID"])
            return True

    def void_credit_note(self, credit_note_id: str) -> dict[str, Any]:
        """Void a credit note: its allocations no longer reduce the invoices."""
        with self._lock:
            row = self.credit_notes[credit_note_id]
            row["Status"] = "VOIDED"
            self._touch(row, "CreditNoteID", "CREDITNOTE", "UPDATE")
            for alloc in row["Allocations"]:
                self._recompute(alloc["Invoice"]["InvoiceID"])
            return copy.deepcopy(row)

    # ------------------------------------------------------------ manual journals
    def add_manual_journal(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post a manual journal; its lines must balance (debits positive)."""
        with self._lock:
            lines = body.get("JournalLines") or []
            if len(lines) < 2 or sum(_money(x["LineAmount"]) for x in lines) != 0:
                raise ValueError("the journal lines must balance")
            if any(not x.get("AccountCode") for x in lines):
                raise ValueError("every journal line needs an AccountCode")
            row = {
                "ManualJournalID": str(uuid.uuid4()),
                "Narration": str(body.get("Narration", "")),
                "Date": ms_date(date.fromisoformat(str(body["Date"])[:10])),
                "Status": str(body.get("Status", "DRAFT")),
                "LineAmountTypes": body.get("LineAmountTypes", "NoTax"),
                "JournalLines": [{**x, "LineAmount": _money(x["LineAmount"])} for x in lines],
            }
            self.manual_journals[row["ManualJournalID"]] = row
            self._touch(row, "ManualJournalID", None, "CREATE")
            return copy.deepcopy(row)

    # ------------------------------------------------------------ reads
    def collection(self, name: str) -> dict[str, dict[str, Any]]:
        """The rows of an API collection (``Invoices`` …)."""
        return {
            "Contacts": self.contacts,
            "Invoices": self.invoices,
            "Payments": self.payments,
            "CreditNotes": self.credit_notes,
            "Overpayments": {},
            "Prepayments": {},
            "ManualJournals": self.manual_journals,
        }[name]

    def modified_since(self, name: str, since: datetime | None) -> list[dict[str, Any]]:
        """Rows of a collection changed after ``since`` (all when None), oldest first; the
        rows themselves, not copies."""
        with self._lock:
            rows = [
                r
                for key, r in self.collection(name).items()
                if since is None or self._updated[key] > since
            ]
            key = {
                "Contacts": "ContactID",
                "Invoices": "InvoiceID",
                "Payments": "PaymentID",
                "CreditNotes": "CreditNoteID",
                "ManualJournals": "ManualJournalID",
            }
            rows.sort(key=lambda r: self._updated[r[key.get(name, "")]])
            return rows  # the caller copies what it answers (a page, not the whole book)

    # ------------------------------------------------------------ the books, for the demo
    def open_invoices(self) -> set[str]:
        """Sales invoices with something still due."""
        with self._lock:
            return {
                i
                for i, row in self.invoices.items()
                if row["Status"] == "AUTHORISED" and row["AmountDue"] > 0
            }

    def credit_notes_referenced(self, is_ours: Callable[[str], bool]) -> list[dict[str, Any]]:
        """The live credit notes whose ``Reference`` ``is_ours`` says forwardflow wrote."""
        with self._lock:
            return [
                copy.deepcopy(n)
                for n in self.credit_notes.values()
                if n["Status"] != "VOIDED" and is_ours(str(n.get("Reference", "")))
            ]
