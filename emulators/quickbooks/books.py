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
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulators.quickbooks.company import EmulatedCompany

__all__ = [
    "OpenItem",
    "Posting",
    "aged_receivable_detail",
    "aged_receivables",
    "check_payment",
    "customer_receivables",
    "open_items",
    "postings",
    "report",
    "trial_balance",
]

_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_UNDEPOSITED_FUNDS = "4"
_INCOME = "1"
_RETAINED_EARNINGS = "2"
_PROFIT_AND_LOSS = ("Revenue", "Expense")


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
            left = max(total - applied[("Invoice", str(invoice["Id"]), customer)], _ZERO)
            items.append(_item(invoice, "Invoice", customer, total, left))
        for memo in company.entities["CreditMemo"].values():
            total = _money(memo.get("TotalAmt"))
            if not _live(memo) or not total or not dated(memo):
                continue
            customer = memo["CustomerRef"]["value"]
            left = max(total - applied[("CreditMemo", str(memo["Id"]), customer)], _ZERO)
            items.append(_item(memo, "CreditMemo", customer, -total, -left))
        for entry in company.entities["JournalEntry"].values():
            if not _live(entry) or not dated(entry):
                continue
            for customer, net in sorted(_journal_net(entry, receivable).items()):
                used = applied[("JournalEntry", str(entry["Id"]), customer)]
                left = max(abs(net) - used, _ZERO)
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
    charges = credits = _ZERO
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
            _ZERO,
        )
        if kind in ("Invoice", "CreditMemo"):
            if target["CustomerRef"]["value"] != customer:
                raise ValueError(f"{kind} {txn_id} is not customer {customer}'s")
            size = _money(target.get("TotalAmt"))
            is_charge = kind == "Invoice"
        elif kind == "JournalEntry":
            net = _journal_net(target, receivable).get(customer, _ZERO)
            if not net:
                raise ValueError(f"journal entry {txn_id} has no receivable line for {customer}")
            size, is_charge = abs(net), net > 0
        else:
            raise ValueError(f"a payment cannot link a {kind}")
        if amount > max(size - others, _ZERO):
            raise ValueError(
                f"{amount} applied to {kind} {txn_id} exceeds its open balance "
                f"{max(size - others, _ZERO)}"
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


# ---------------------------------------------------------------- reports
def _text(amount: Decimal) -> str:
    return str(amount.quantize(_CENT))


def _header(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Time": datetime.now(UTC).isoformat(timespec="seconds"),
        "ReportName": name,
        "Currency": "USD",
        **extra,
    }


def _columns(*columns: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "Column": [
            {"ColTitle": title, "ColType": kind, "MetaData": [{"Name": "ColKey", "Value": key}]}
            for title, kind, key in columns
        ]
    }


def _option(empty: bool, **more: str) -> list[dict[str, str]]:
    return [
        *({"Name": k, "Value": v} for k, v in more.items()),
        {"Name": "NoReportData", "Value": "true" if empty else "false"},
    ]


def trial_balance(
    company: EmulatedCompany, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """``reports/TrialBalance``: each account's balance on ``end`` as a debit or a credit."""
    end = end or company.clock().date()
    year = date(end.year, 1, 1)
    balances: dict[str, Decimal] = defaultdict(Decimal)
    accounts = company.entities["Account"]
    for posting in postings(company, end):
        account = accounts.get(posting.account_id, {})
        if account.get("Classification") in _PROFIT_AND_LOSS and posting.on < year:
            balances[_RETAINED_EARNINGS] += posting.amount  # earlier years are closed
        else:
            balances[posting.account_id] += posting.amount
    rows: list[dict[str, Any]] = []
    debits = credits = _ZERO
    for account_id in sorted(balances, key=lambda a: (int(a) if a.isdigit() else 10**9, a)):
        amount = balances[account_id]
        if not amount:
            continue
        name = accounts.get(account_id, {}).get("Name", account_id)
        debit, credit = (amount, _ZERO) if amount > 0 else (_ZERO, -amount)
        debits, credits = debits + debit, credits + credit
        rows.append(
            {
                "ColData": [
                    {"value": name, "id": account_id},
                    {"value": _text(debit) if debit else ""},
                    {"value": _text(credit) if credit else ""},
                ],
                "type": "Data",
            }
        )
    rows.append(
        {
            "Summary": {
                "ColData": [{"value": "TOTAL"}, {"value": _text(debits)}, {"value": _text(credits)}]
            },
            "type": "Section",
            "group": "GrandTotal",
        }
    )
    return {
        "Header": _header(
            "TrialBalance",
            ReportBasis="Accrual",
            StartPeriod=(start or year).isoformat(),
            EndPeriod=end.isoformat(),
            Option=_option(len(rows) == 1),
        ),
        "Columns": _columns(
            ("", "Account", "account"), ("Debit", "Money", "debit"), ("Credit", "Money", "credit")
        ),
        "Rows": {"Row": rows},
    }


_AGING = (
    (None, 0, "Current"),
    (1, 30, "1 - 30 days past due"),
    (31, 60, "31 - 60 days past due"),
    (61, 90, "61 - 90 days past due"),
    (91, None, "91 or more days past due"),
)
_DETAIL_COLUMNS: dict[str, tuple[str, str]] = {  # key: (title, type)
    "tx_date": ("Date", "tx_date"),
    "txn_type": ("Transaction Type", "txn_type"),
    "doc_num": ("Num", "doc_num"),
    "cust_name": ("Customer", "cust_name"),
    "due_date": ("Due Date", "due_date"),
    "subt_amount": ("Amount", "subt_amount"),
    "subt_open_bal": ("Open Balance", "subt_open_bal"),
}
_DEFAULT_DETAIL = tuple(_DETAIL_COLUMNS)


def _bucket(days: int) -> str:
    for low, high, name in _AGING:
        if (low is None or days >= low) and (high is None or days <= high):
            return name
    return _AGING[-1][2]


def aged_receivable_detail(
    company: EmulatedCompany, report_date: date | None = None, columns: str | None = None
) -> dict[str, Any]:
    """``reports/AgedReceivableDetail``: each open item, in sections by days past due."""
    report_date = report_date or company.clock().date()
    wanted = tuple(c.strip() for c in columns.split(",")) if columns else _DEFAULT_DETAIL
    wanted = tuple(c for c in wanted if c in _DETAIL_COLUMNS) or _DEFAULT_DETAIL
    names = {c: company.entities["Customer"].get(c, {}) for c in _customers(company)}
    sections: dict[str, list[OpenItem]] = defaultdict(list)
    for item in open_items(company, report_date):
        sections[_bucket((report_date - item.due_date).days)].append(item)

    def cells(item: OpenItem) -> list[dict[str, str]]:
        customer = names.get(item.customer_id, {})
        values = {
            "tx_date": {"value": item.txn_date.isoformat()},
            "txn_type": {"value": item.txn_type, "id": item.txn_id},
            "doc_num": {"value": item.doc_number},
            "cust_name": {"value": str(customer.get("DisplayName", "")), "id": item.customer_id},
            "due_date": {"value": item.due_date.isoformat()},
            "subt_amount": {"value": _text(item.amount)},
            "subt_open_bal": {"value": _text(item.open)},
        }
        return [values[c] for c in wanted]

    def summary(title: str, items: list[OpenItem]) -> list[dict[str, str]]:
        totals = {
            "subt_amount": _text(sum((i.amount for i in items), _ZERO)),
            "subt_open_bal": _text(sum((i.open for i in items), _ZERO)),
        }
        return [{"value": title if n == 0 else totals.get(c, "")} for n, c in enumerate(wanted)]

    rows: list[dict[str, Any]] = []
    every: list[OpenItem] = []
    for _, _, name in _AGING:
        items = sorted(sections.get(name, []), key=lambda i: (i.txn_date, i.txn_type, i.txn_id))
        if not items:
            continue
        every += items
        rows.append(
            {
                "Header": {"ColData": [{"value": name}, *({"value": ""} for _ in wanted[1:])]},
                "Rows": {"Row": [{"ColData": cells(i), "type": "Data"} for i in items]},
                "Summary": {"ColData": summary(f"Total for {name}", items)},
                "type": "Section",
            }
        )
    rows.append(
        {"Summary": {"ColData": summary("TOTAL", every)}, "type": "Section", "group": "GrandTotal"}
    )
    return {
        "Header": _header(
            "AgedReceivableDetail",
            EndPeriod=report_date.isoformat(),
            Option=_option(not every, report_date=report_date.isoformat()),
        ),
        "Columns": _columns(*(_DETAIL_COLUMNS[c] + (c,) for c in wanted)),
        "Rows": {"Row": rows},
    }


def _customers(company: EmulatedCompany) -> list[str]:
    return list(company.entities["Customer"])


def aged_receivables(company: EmulatedCompany, report_date: date | None = None) -> dict[str, Any]:
    """``reports/AgedReceivables``: what each customer owes, by days past due, and in all."""
    report_date = report_date or company.clock().date()
    per: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in open_items(company, report_date):
        per[item.customer_id][_bucket((report_date - item.due_date).days)] += item.open
    rows: list[dict[str, Any]] = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    customers = company.entities["Customer"]
    for customer_id in sorted(per, key=lambda c: str(customers.get(c, {}).get("DisplayName", c))):
        buckets = per[customer_id]
        total = sum(buckets.values(), _ZERO)
        for name, amount in buckets.items():
            totals[name] += amount
        totals["total"] += total
        rows.append(
            {
                "ColData": [
                    {
                        "value": str(customers.get(customer_id, {}).get("DisplayName", "")),
                        "id": customer_id,
                    },
                    *({"value": _text(buckets.get(name, _ZERO))} for _, _, name in _AGING),
                    {"value": _text(total)},
                ],
                "type": "Data",
            }
        )
    rows.append(
        {
            "Summary": {
                "ColData": [
                    {"value": "TOTAL"},
                    *({"value": _text(totals.get(name, _ZERO))} for _, _, name in _AGING),
                    {"value": _text(totals["total"])},
                ]
            },
            "type": "Section",
            "group": "GrandTotal",
        }
    )
    titles = ("Current", "1 - 30", "31 - 60", "61 - 90", "91 and over")
    return {
        "Header": _header(
            "AgedReceivables",
            EndPeriod=report_date.isoformat(),
            Option=_option(not per, report_date=report_date.isoformat()),
        ),
        "Columns": _columns(
            ("", "Customer", "customer"),
            *((title, "Money", f"period{n}") for n, title in enumerate(titles)),
            ("Total", "Money", "total"),
        ),
        "Rows": {"Row": rows},
    }


def report(company: EmulatedCompany, name: str, params: Mapping[str, str]) -> dict[str, Any]:
    """A report by its ``reports/<name>`` path; unknown names raise KeyError."""

    def day(key: str) -> date | None:
        return date.fromisoformat(params[key]) if params.get(key) else None

    if name == "TrialBalance":
        return trial_balance(company, day("start_date"), day("end_date"))
    if name == "AgedReceivableDetail":
        return aged_receivable_detail(company, day("report_date"), params.get("columns"))
    if name == "AgedReceivables":
        return aged_receivables(company, day("report_date"))
    raise KeyError(name)
