"""The emulated company's books: a general ledger from its transactions, and its reports.

What QuickBooks books for each transaction, as this emulator models it:

- Invoice: Dr Accounts Receivable (its customer) / Cr Services income, ``TotalAmt``.
- Payment: Dr ``DepositToAccountRef`` (Undeposited Funds by default) / Cr Accounts
  Receivable, ``TotalAmt``. Its lines only *apply* it: a zero-total payment linking an
  invoice and a credit (credit memo, journal-entry credit) moves nothing in the ledger.
- CreditMemo: Dr Services income / Cr Accounts Receivable.
- JournalEntry: its lines; a receivable line names its customer.

Voided transactions keep their record at zero and deleted ones leave a tombstone: both
book nothing. Open items (what the aging lists) are charges (invoices, journal-entry
receivable debits) and credits (unapplied payments, credit memos, journal-entry
receivable credits), less what payments applied to them, as of the report date.

Reports answer in the shape Intuit documents (``Header``, ``Columns``, ``Rows.Row`` with
``ColData``, sections with ``Summary``): ``TrialBalance`` (balance-sheet accounts to the
end date, income and expense from the start of its year, earlier years closed into
Retained Earnings), ``AgedReceivableDetail`` and ``AgedReceivables``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulators.quickbooks.company import EmulatedCompany

__all__ = [
    "CENT",
    "PROFIT_AND_LOSS",
    "RETAINED_EARNINGS",
    "ZERO",
    "OpenItem",
    "Posting",
    "check_payment",
    "customer_receivables",
    "open_items",
    "postings",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")
_UNDEPOSITED_FUNDS = "4"
_INCOME = "1"
RETAINED_EARNINGS = "2"
PROFIT_AND_LOSS = ("Revenue", "Expense")


@dataclass(frozen=True, slots=True)
class Posting:
    """One debit (amount > 0) or credit (< 0) to one account, on a date."""

    on: date
    account_id: str
    amount: Decimal
    customer_id: str | None
    txn_type: str
    txn_id: str


@dataclass(frozen=True, slots=True)
class OpenItem:
    """A charge (> 0) or credit (< 0) still open for a customer: what the aging lists."""

    txn_type: str
    txn_id: str
    customer_id: str
    txn_date: date
    due_date: date
    doc_number: str
    amount: Decimal
    open: Decimal


def _live(record: Mapping[str, Any]) -> bool:
    return record.get("status") != "Deleted"


def _day(text: object) -> date:
    return date.fromisoformat(str(text)[:10])


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0))


def _receivable_accounts(company: EmulatedCompany) -> set[str]:
    return {
        account_id
        for account_id, account in company.entities["Account"].items()
        if account.get("AccountType") == "Accounts Receivable"
    }


def _journal_lines(record: Mapping[str, Any]) -> list[tuple[str, Decimal, str | None]]:
    """(account, amount debit +, customer) for each line of a journal entry."""
    found = []
    for line in record.get("Line", []):
        detail = line.get("JournalEntryLineDetail")
        if not detail:
            continue
        amount = _money(line.get("Amount"))
        signed = amount if detail.get("PostingType") == "Debit" else -amount
        entity = (detail.get("Entity") or {}).get("EntityRef") or {}
        found.append((str(detail["AccountRef"]["value"]), signed, entity.get("value")))
    return found


def postings(company: EmulatedCompany, through: date | None = None) -> list[Posting]:
    """Every posting of the company's transactions dated on or before ``through``."""
    with company._lock:
        entities = {name: list(rows.values()) for name, rows in company.entities.items()}
        receivable = _receivable_accounts(company)
    ar = next(iter(sorted(receivable)), "84")
    found: list[Posting] = []

    def book(record: Mapping[str, Any], kind: str, debit: str, credit: str, who: str) -> None:
        amount = _money(record.get("TotalAmt"))
        if not amount:
            return
        on = _day(record["TxnDate"])
        if through is not None and on > through:
            return
        debit_customer = who if debit in receivable else None
        credit_customer = who if credit in receivable else None
        found.append(Posting(on, debit, amount, debit_customer, kind, str(record["Id"])))
        found.append(Posting(on, credit, -amount, credit_customer, kind, str(record["Id"])))

    for record in filter(_live, entities["Invoice"]):
        book(record, "Invoice", ar, _INCOME, record["CustomerRef"]["value"])
    for record in filter(_live, entities["Payment"]):
        deposit = (record.get("DepositToAccountRef") or {}).get("value") or _UNDEPOSITED_FUNDS
        book(record, "Payment", str(deposit), ar, record["CustomerRef"]["value"])
    for record in filter(_live, entities["CreditMemo"]):
        book(record, "CreditMemo", _INCOME, ar, record["CustomerRef"]["value"])
    for record in filter(_live, entities["JournalEntry"]):
        on = _day(record["TxnDate"])
        if through is not None and on > through:
            continue
        for account, amount, customer in _journal_lines(record):
            who = customer if account in receivable else None
            found.append(Posting(on, account, amount, who, "JournalEntry", str(record["Id"])))
    return found


def customer_receivables(
    company: EmulatedCompany, through: date | None = None
) -> dict[str, Decimal]:
    """Accounts Receivable per customer, from the general ledger (not the open items)."""
    balances: dict[str, Decimal] = defaultdict(Decimal)
    for posting in postings(company, through):
        if posting.customer_id is not None:
            balances[posting.customer_id] += posting.amount
    return dict(balances)


# ---------------------------------------------------------------- open items
def _applied(company: EmulatedCompany, through: date | None, exclude: str | None) -> Any:
    """Amounts payments applied, by (type, id, customer), and each payment's net charges."""
    applied: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    payments = [p for p in company.entities["Payment"].values() if _live(p)]
    for payment in payments:
        if str(payment["Id"]) == exclude:
            continue
        if through is not None and _day(payment["TxnDate"]) > through:
            continue
        customer = payment["CustomerRef"]["value"]
        for line in payment.get("Line", []):
            for link in line.get("LinkedTxn", [])[:1]:
                applied[(link["TxnType"], str(link["TxnId"]), customer)] += _money(line["Amount"])
    return applied, payments


def _journal_net(record: Mapping[str, Any], receivable: set[str]) -> dict[str, Decimal]:
    """A journal entry's receivable lines, netted per customer (debit +)."""
    net: dict[str, Decimal] = defaultdict(Decimal)
    for account, amount, customer in _journal_lines(record):
        if account in receivable and customer:
            net[customer] += amount
    return net


def open_items(
    company: EmulatedCompany, as_of: date | None = None, *, exclude: str | None = None
) -> list[OpenItem]:
    """Every charge and credit with something still open on ``as_of`` (all when None).

    ``exclude`` leaves one payment out (an update checks against what the others left).
    """
    with company._lock:
        receivable = _receivable_accounts(company)
        applied, payments = _applied(company, as_of, exclude)
        items: list[OpenItem] = []

        def dated(record: Mapping[str, Any]) -> bool:
            return as_of is None or _day(record["TxnDate"]) <= as_of

        for invoice in company.entities["Invoice"].values():
            total = _money(invoice.get("TotalAmt"))
            if not _live(invoice) or not total or not dated(invoice):
                continue
            customer = invoice["CustomerRef"]["value"]
            left = max(total - applied[("Invoice", str(invoice["Id"]), customer)], ZERO)
            items.append(_item(invoice, "Invoice", customer, total, left))
        for memo in company.entities["CreditMemo"].values():
            total = _money(memo.get("TotalAmt"))
            if not _live(memo) or not total or not dated(memo):
                continue
            customer = memo["CustomerRef"]["value"]
            left = max(total - applied[("CreditMemo", str(memo["Id"]), customer)], ZERO)
            items.append(_item(memo, "CreditMemo", customer, -total, -left))
        for entry in company.entities["JournalEntry"].values():
            if not _live(entry) or not dated(entry):
                continue
            for customer, net in sorted(_journal_net(entry, receivable).items()):
                used = applied[("JournalEntry", str(entry["Id"]), customer)]
                left = max(abs(net) - used, ZERO)
                items.append(
                    _item(entry, "JournalEntry", customer, net, left if net > 0 else -left)
                )
        for payment in payments:
            if str(payment["Id"]) == exclude or not dated(payment):
                continue
            unapplied = _money(payment.get("UnappliedAmt"))
            if unapplied:
                customer = payment["CustomerRef"]["value"]
                amount = _money(payment.get("TotalAmt"))
                items.append(_item(payment, "Payment", customer, -amount, -unapplied))
        return [item for item in items if item.open]


def _item(
    record: Mapping[str, Any], kind: str, customer: str, amount: Decimal, left: Decimal
) -> OpenItem:
    on = _day(record["TxnDate"])
    return OpenItem(
        kind,
        str(record["Id"]),
        customer,
        on,
        _day(record["DueDate"]) if record.get("DueDate") else on,
        str(record.get("DocNumber") or ""),
        amount,
        left,
    )


def check_payment(
    company: EmulatedCompany, record: Mapping[str, Any], exclude: str | None
) -> Decimal:
    """Validate a payment's links as QuickBooks would; returns its ``UnappliedAmt``.

    Each link must name a transaction of the payment's customer and apply no more than
    is open on it; charges (invoices, journal-entry debits) less credits (credit memos,
    journal-entry credits) may not exceed what the payment pays.
    """
    customer = record["CustomerRef"]["value"]
    receivable = _receivable_accounts(company)
    charges = credits = ZERO
    wanted: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in record["Line"]:
        amount = _money(line["Amount"])
        if amount < 0:
            raise ValueError("a payment line cannot be negative")
        for link in line["LinkedTxn"][:1]:
            wanted[(link["TxnType"], link["TxnId"])] += amount
    for (kind, txn_id), amount in sorted(wanted.items()):
        target = company.entities.get(kind, {}).get(txn_id)
        if target is None or not _live(target):
            raise ValueError(f"{kind} {txn_id} does not exist")
        others = sum(
            (
                _money(line["Amount"])
                for payment in company.linked_by(kind, txn_id)
                if str(payment["Id"]) != exclude and payment["CustomerRef"]["value"] == customer
                for line in payment.get("Line", [])
                if line.get("LinkedTxn")
                and (line["LinkedTxn"][0]["TxnType"], str(line["LinkedTxn"][0]["TxnId"]))
                == (kind, txn_id)
            ),
            ZERO,
        )
        if kind in ("Invoice", "CreditMemo"):
            if target["CustomerRef"]["value"] != customer:
                raise ValueError(f"{kind} {txn_id} is not customer {customer}'s")
            size = _money(target.get("TotalAmt"))
            is_charge = kind == "Invoice"
        elif kind == "JournalEntry":
            net = _journal_net(target, receivable).get(customer, ZERO)
            if not net:
                raise ValueError(f"journal entry {txn_id} has no receivable line for {customer}")
            size, is_charge = abs(net), net > 0
        else:
            raise ValueError(f"a payment cannot link a {kind}")
        if amount > max(size - others, ZERO):
            raise ValueError(
                f"{amount} applied to {kind} {txn_id} exceeds its open balance "
                f"{max(size - others, ZERO)}"
            )
        if is_charge:
            charges += amount
        else:
            credits += amount
    total = _money(record.get("TotalAmt"))
    unapplied = total - (charges - credits)
    if unapplied < 0:
        raise ValueError(
            f"the payment applies {charges - credits} of charges but pays only {total}"
        )
    return unapplied
