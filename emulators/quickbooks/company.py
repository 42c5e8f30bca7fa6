"""One emulated company: entities shaped like QuickBooks' JSON, versions, a change log.

Every change bumps the entity's ``SyncToken`` and ``MetaData.LastUpdatedTime`` and is
logged for change-data-capture; deletions leave a tombstone (``status: "Deleted"``).
Invoice balances follow the payments linked to them, as in QuickBooks. Payments link
invoices, credit memos and journal entries (``Line[].LinkedTxn``); a zero-total payment
applies credits to charges. The chart of accounts and the general ledger built from all
of it are in ``books``.
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

from emulators.quickbooks.books import check_payment

__all__ = ["CHART_OF_ACCOUNTS", "Change", "EmulatedCompany", "StaleObjectError"]

ENTITIES = ("Customer", "Invoice", "Payment", "CreditMemo", "JournalEntry", "Account")

CHART_OF_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # Id, Name, AccountType, Classification (ids as a sandbox company has them; forwardflow's
    # default ``quickbooks.accounts`` name 35, 84, 85, 90, 91)
    ("35", "Checking", "Bank", "Asset"),
    ("4", "Undeposited Funds", "Other Current Asset", "Asset"),
    ("84", "Accounts Receivable (A/R)", "Accounts Receivable", "Asset"),
    ("85", "Allowance for Doubtful Accounts", "Other Current Asset", "Asset"),
    ("91", "Due to Buyer of Receivables", "Other Current Liability", "Liability"),
    ("2", "Retained Earnings", "Equity", "Equity"),
    ("1", "Services", "Income", "Revenue"),
    ("90", "Loss on Sale of Receivables", "Other Expense", "Expense"),
)
"""The accounts every emulated company starts with."""

UNDEPOSITED_FUNDS = "4"
INCOME = "1"


@dataclass(frozen=True, slots=True)
class Change:
    """One logged change, for CDC and webhooks."""

    entity: str
    entity_id: str
    operation: str  # created, updated, deleted, voided, merged
    at: datetime
    deleted_id: str | None = None


class StaleObjectError(Exception):
    """An update named an older ``SyncToken`` than the entity has (QuickBooks error 5010)."""


_PACIFIC = timezone(timedelta(hours=-8), "PST")


def _stamp(when: datetime) -> str:
    """QuickBooks' local-offset timestamp (Pacific standard time, as the sandbox shows)."""
    return when.astimezone(UTC).astimezone(_PACIFIC).isoformat(timespec="seconds")


def _by_id(record: dict[str, Any]) -> tuple[int, str]:
    """Numeric ids in number order (a few test ids, "CM-12", are not numbers)."""
    text = str(record["Id"])
    return (int(text), "") if text.isdigit() else (2**63, text)


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
    _linked_by: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # txn → payments
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        stamp = _stamp(self.clock())
        for account_id, name, kind, classification in CHART_OF_ACCOUNTS:
            self.entities["Account"][account_id] = {
                "Id": account_id,
                "Name": name,
                "FullyQualifiedName": name,
                "AccountType": kind,
                "Classification": classification,
                "Active": True,
                "SyncToken": "0",
                "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
                "domain": "QBO",
            }

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
            return copy.deepcopy(sorted(rows, key=_by_id))

    def page(
        self, entity: str, keep: Callable[[dict[str, Any]], bool], start: int, most: int
    ) -> list[dict[str, Any]]:
        """One page (from the ``start``-th, 1-based) of the live entities ``keep`` admits, by
        numeric id: filtered in place, only the page copied (a query over a large book)."""
        with self._lock:
            rows = [
                e
                for e in self.entities[entity].values()
                if e.get("status") != "Deleted" and keep(e)
            ]
            rows.sort(key=_by_id)
            return copy.deepcopy(rows[start - 1 : start - 1 + most])

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
        payers = self._paid_by.get(invoice_id, set()) | self._linked_by.get(
            ("Invoice", invoice_id), set()
        )
        for payment_id in sorted(payers, key=int):
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
                self._credit_memo(credit_memo, customer_id, paid_on, total)
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
            if credit_memo:
                self._link(str(saved["Id"]), [("CreditMemo", credit_memo)])
            return saved

    def _credit_memo(self, memo_id: str, customer_id: str, on: date, amount: Decimal) -> None:
        """The credit memo a seeded credit application names, made if it does not exist yet."""
        if memo_id in self.entities["CreditMemo"]:
            return
        record = {
            "Id": memo_id,
            "DocNumber": memo_id,
            "TxnDate": on.isoformat(),
            "TotalAmt": amount,
            "Balance": Decimal(0),
            "CustomerRef": {"value": customer_id},
            "CurrencyRef": {"value": "USD"},
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail"}],
        }
        self._save("CreditMemo", record, "created")

    def _link(self, payment_id: str, txns: list[tuple[str, str]]) -> None:
        for txn in txns:
            self._linked_by.setdefault(txn, set()).add(payment_id)

    def _unlink(self, payment_id: str) -> list[tuple[str, str]]:
        """Forget what a payment links; returns what it linked."""
        found = [txn for txn, payers in self._linked_by.items() if payment_id in payers]
        for txn in found:
            self._linked_by[txn].discard(payment_id)
        return found

    def linked_by(self, txn_type: str, txn_id: str) -> list[dict[str, Any]]:
        """The live payments that link a transaction (for open balances)."""
        with self._lock:
            payers = set(self._linked_by.get((txn_type, txn_id), set()))
            if txn_type == "Invoice":
                payers |= self._paid_by.get(txn_id, set())
            found = [self.entities["Payment"][p] for p in sorted(payers, key=int)]
            return [p for p in found if p.get("status") != "Deleted"]

    def save_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create or (with ``Id`` and the current ``SyncToken``) update a payment via the API.

        Lines link invoices, credit memos and journal entries; no link may exceed what
        is open on its transaction, and a payment cannot apply more credit than it pays
        for (``TotalAmt`` = charges − credits + unapplied). Raises ValueError (a business
        validation error) or ``StaleObjectError`` (5010).
        """
        with self._lock:
            payment_id = str(body["Id"]) if body.get("Id") else None
            held = self.entities["Payment"].get(payment_id) if payment_id else None
            if payment_id is not None:
                if held is None or held.get("status") == "Deleted":
                    raise ValueError(f"payment {payment_id} does not exist")
                if str(body.get("SyncToken")) != held["SyncToken"]:
                    raise StaleObjectError(payment_id)
            customer = str((body.get("CustomerRef") or {}).get("value", ""))
            if customer not in self.entities["Customer"]:
                raise ValueError(f"unknown customer {customer!r}")
            new_id = payment_id or self._next_id()
            links = [
                [(str(link["TxnType"]), str(link["TxnId"])) for link in line.get("LinkedTxn", [])]
                for line in body.get("Line", [])
            ]
            record: dict[str, Any] = {
                "Id": new_id,
                "TxnDate": str(body.get("TxnDate") or self.clock().date().isoformat()),
                "TotalAmt": Decimal(str(body.get("TotalAmt", 0))),
                "CustomerRef": {"value": customer},
                "CurrencyRef": body.get("CurrencyRef") or {"value": "USD"},
                "Line": [
                    {
                        "Amount": Decimal(str(line["Amount"])),
                        "LinkedTxn": [{"TxnId": i, "TxnType": t} for t, i in linked],
                    }
                    for line, linked in zip(body.get("Line", []), links, strict=True)
                ],
            }
            for name in ("PaymentRefNum", "PrivateNote", "DepositToAccountRef"):
                if body.get(name) is not None:
                    record[name] = body[name]
            record["UnappliedAmt"] = check_payment(self, record, exclude=payment_id)
            before = self._unlink(new_id) if payment_id else []
            saved = self._save("Payment", record, "updated" if payment_id else "created")
            now = [txn for linked in links for txn in linked]
            self._link(new_id, now)
            for txn_type, txn_id in sorted(set(before) | set(now)):
                if txn_type == "Invoice":
                    self._rebalance(txn_id)
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
