"""One emulated company: entities shaped like QuickBooks' JSON, versions, a change log.

Every change bumps the entity's ``SyncToken`` and ``MetaData.LastUpdatedTime`` and is
logged for change-data-capture; deletions leave a tombstone (``status: "Deleted"``).
Invoice balances follow the payments linked to them, as in QuickBooks.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

__all__ = ["Change", "EmulatedCompany"]

ENTITIES = ("Customer", "Invoice", "Payment", "CreditMemo", "JournalEntry")


@dataclass(frozen=True, slots=True)
class Change:
    """One logged change, for CDC and webhooks."""

    entity: str
    entity_id: str
    operation: str  # created, updated, deleted, voided, merged
    at: datetime
    deleted_id: str | None = None


_PACIFIC = timezone(timedelta(hours=-8), "PST")


def _stamp(when: datetime) -> str:
    """QuickBooks' local-offset timestamp (Pacific standard time, as the sandbox shows)."""
    return when.astimezone(UTC).astimezone(_PACIFIC).isoformat(timespec="seconds")


@dataclass
class EmulatedCompany:
    """The books of one realm, thread-safe (the HTTP server and a test may both act)."""

    realm_id: str
    name: str = "Harbor & Pine Consulting LLP"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    entities: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in ENTITIES}
    )
    changes: list[Change] = field(default_factory=list)
    listeners: list[Callable[[EmulatedCompany, Change], None]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _paid_by: dict[str, set[str]] = field(default_factory=dict)  # invoice → payment ids
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------ reading
    def get(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        """A copy of the entity, or None (deleted entities read as missing, as in QBO)."""
        with self._lock:
            found = self.entities[entity].get(entity_id)
            if found is None or found.get("status") == "Deleted":
                return None
            return copy.deepcopy(found)

    def tombstone(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        """The record of a deleted entity (for CDC), or None."""
        with self._lock:
            found = self.entities[entity].get(entity_id)
            return copy.deepcopy(found) if found and found.get("status") == "Deleted" else None

    def all(self, entity: str) -> list[dict[str, Any]]:
        """Every live entity of a type, by numeric id."""
        with self._lock:
            rows = [e for e in self.entities[entity].values() if e.get("status") != "Deleted"]
            return copy.deepcopy(sorted(rows, key=lambda e: int(e["Id"])))

    def changed_since(self, entities: list[str], since: datetime) -> list[dict[str, Any]]:
        """Records (live or tombstones) of the given types changed after ``since``."""
        with self._lock:
            latest: dict[tuple[str, str], Change] = {}
            for change in self.changes:
                if change.entity in entities and change.at > since:
                    latest[(change.entity, change.entity_id)] = change
            rows = []
            for (entity, entity_id), _change in sorted(latest.items(), key=lambda kv: kv[1].at):
                record = copy.deepcopy(self.entities[entity][entity_id])
                record["__entity"] = entity
                rows.append(record)
            return rows

    # ------------------------------------------------------------ writing
    def _next_id(self) -> str:
        return str(next(self._ids))

    def _save(
        self, entity: str, record: dict[str, Any], operation: str, deleted_id: str | None = None
    ) -> dict[str, Any]:
        now = self.clock()
        held = self.entities[entity].get(record["Id"])
        record["SyncToken"] = str(int(held["SyncToken"]) + 1) if held else "0"
        created = held["MetaData"]["CreateTime"] if held else _stamp(now)
        record["MetaData"] = {"CreateTime": created, "LastUpdatedTime": _stamp(now)}
        record["domain"] = "QBO"
        self.entities[entity][record["Id"]] = record
        change = Change(entity, record["Id"], operation, now, deleted_id)
        self.changes.append(change)
        for listener in list(self.listeners):
            listener(self, change)
        return copy.deepcopy(record)

    def add_customer(self, display_name: str, **fields: Any) -> dict[str, Any]:
        """Create a customer."""
        with self._lock:
            record = {"Id": self._next_id(), "DisplayName": display_name, "Active": True, **fields}
            return self._save("Customer", record, "created")

    def add_invoice(
        self,
        customer_id: str,
        amount: Decimal | str,
        txn_date: date,
        due_date: date | None = None,
        doc_number: str | None = None,
    ) -> dict[str, Any]:
        """Create an invoice for a customer."""
        with self._lock:
            total = Decimal(amount)
            invoice_id = self._next_id()
            customer = self.entities["Customer"][customer_id]
            record = {
                "Id": invoice_id,
                "DocNumber": doc_number or invoice_id,
                "TxnDate": txn_date.isoformat(),
                "DueDate": (due_date or txn_date + timedelta(days=30)).isoformat(),
                "TotalAmt": total,
                "Balance": total,
                "CustomerRef": {"value": customer_id, "name": customer["DisplayName"]},
                "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
                "Line": [{"Amount": total, "DetailType": "SalesItemLineDetail"}],
                "LinkedTxn": [],
            }
            return self._save("Invoice", record, "created")

    def _rebalance(self, invoice_id: str) -> None:
        invoice = self.entities["Invoice"].get(invoice_id)
        if invoice is None or invoice.get("status") == "Deleted":
            return
        paid = Decimal(0)
        links = []
        for payment_id in sorted(self._paid_by.get(invoice_id, ()), key=int):
            payment = self.entities["Payment"][payment_id]
            if payment.get("status") == "Deleted":
                continue
            for line in payment.get("Line", []):
                for link in line.get("LinkedTxn", []):
                    if link["TxnType"] == "Invoice" and link["TxnId"] == invoice_id:
                        paid += Decimal(line["Amount"])
                        links.append({"TxnId": payment["Id"], "TxnType": "Payment"})
        balance = max(Decimal(invoice["TotalAmt"]) - paid, Decimal(0))
        if balance != Decimal(invoice["Balance"]) or links != invoice["LinkedTxn"]:
            updated = copy.deepcopy(invoice)
            updated["Balance"] = balance
            updated["LinkedTxn"] = links
            self._save("Invoice", updated, "updated")

    def post_payment(
        self,
        customer_id: str,
        paid_on: date,
        allocations: dict[str, Decimal | str],
        credit_memo: str | None = None,
    ) -> dict[str, Any]:
        """Apply a payment (or, with ``credit_memo``, a credit memo) to invoices."""
        with self._lock:
            lines = [
                {
                    "Amount": Decimal(amount),
                    "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
                }
                for invoice_id, amount in allocations.items()
            ]
            total = sum((Decimal(a) for a in allocations.values()), Decimal(0))
            if credit_memo:
                lines.append(
                    {
                        "Amount": total,
                        "LinkedTxn": [{"TxnId": credit_memo, "TxnType": "CreditMemo"}],
                    }
                )
                total = Decimal(0)
            record = {
                "Id": self._next_id(),
                "TxnDate": paid_on.isoformat(),
                "TotalAmt": total,
                "UnappliedAmt": Decimal(0),
                "CustomerRef": {"value": customer_id},
                "CurrencyRef": {"value": "USD"},
                "Line": lines,
            }
            saved = self._save("Payment", record, "created")
            for invoice_id in allocations:
                self._paid_by.setdefault(invoice_id, set()).add(str(saved["Id"]))
                self._rebalance(invoice_id)
            return saved

    def _linked_invoices(self, payment: dict[str, Any]) -> list[str]:
        return [
            link["TxnId"]
            for line in payment.get("Line", [])
            for link in line.get("LinkedTxn", [])
            if link["TxnType"] == "Invoice"
        ]

    def void_payment(self, payment_id: str) -> dict[str, Any]:
        """Void a payment: the record stays with zero amounts; invoices reopen."""
        with self._lock:
            payment = copy.deepcopy(self.entities["Payment"][payment_id])
            invoices = self._linked_invoices(payment)
            payment.update(
                TotalAmt=Decimal(0), UnappliedAmt=Decimal(0), Line=[], PrivateNote="Voided"
            )
            saved = self._save("Payment", payment, "voided")
            for invoice_id in invoices:
                self._rebalance(invoice_id)
            return saved

    def delete_payment(self, payment_id: str) -> dict[str, Any]:
        """Delete a payment: only its id survives; invoices reopen."""
        with self._lock:
            invoices = self._linked_invoices(self.entities["Payment"][payment_id])
            saved = self._save("Payment", {"Id": payment_id, "status": "Deleted"}, "deleted")
            for invoice_id in invoices:
                self._rebalance(invoice_id)
            return saved

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Void an invoice: amounts to zero, ``PrivateNote`` "Voided"."""
        with self._lock:
            invoice = copy.deepcopy(self.entities["Invoice"][invoice_id])
            invoice.update(TotalAmt=Decimal(0), Balance=Decimal(0), PrivateNote="Voided")
            return self._save("Invoice", invoice, "voided")

    def merge_customers(self, merged_id: str, into_id: str) -> dict[str, Any]:
        """Merge one customer into another: its invoices move, it is deleted."""
        with self._lock:
            for invoice in list(self.entities["Invoice"].values()):
                if invoice.get("CustomerRef", {}).get("value") == merged_id:
                    moved = copy.deepcopy(invoice)
                    moved["CustomerRef"] = {"value": into_id}
                    self._save("Invoice", moved, "updated")
            self._save("Customer", {"Id": merged_id, "status": "Deleted"}, "deleted")
            survivor = copy.deepcopy(self.entities["Customer"][into_id])
            return self._save("Customer", survivor, "merged", deleted_id=merged_id)

    def create_journal_entry(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store a journal entry as posted (debits must equal credits, AR lines name a customer)."""
        with self._lock:
            debits = credits = Decimal(0)
            for line in body.get("Line", []):
                detail = line["JournalEntryLineDetail"]
                amount = Decimal(str(line["Amount"]))
                if detail["PostingType"] == "Debit":
                    debits += amount
                else:
                    credits += amount
            if debits != credits:
                raise ValueError(f"debits {debits} do not equal credits {credits}")
            record = {**copy.deepcopy(body), "Id": self._next_id()}
            return self._save("JournalEntry", record, "created")
