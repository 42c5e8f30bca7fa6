"""QuickBooks' own reports over the emulated books: TrialBalance, AgedReceivableDetail,
AgedReceivables, in the JSON shape Intuit documents (header, columns, rows)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from emulators.quickbooks.books import (
    CENT,
    PROFIT_AND_LOSS,
    RETAINED_EARNINGS,
    ZERO,
    OpenItem,
    open_items,
    postings,
)
from emulators.quickbooks.company import EmulatedCompany

__all__ = ["aged_receivable_detail", "aged_receivables", "report", "trial_balance"]


def _text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


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
        if account.get("Classification") in PROFIT_AND_LOSS and posting.on < year:
            balances[RETAINED_EARNINGS] += posting.amount  # earlier years are closed
        else:
            balances[posting.account_id] += posting.amount
    rows: list[dict[str, Any]] = []
    debits = credits = ZERO
    for account_id in sorted(balances, key=lambda a: (int(a) if a.isdigit() else 10**9, a)):
        amount = balances[account_id]
        if not amount:
            continue
        name = accounts.get(account_id, {}).get("Name", account_id)
        debit, credit = (amount, ZERO) if amount > 0 else (ZERO, -amount)
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
            "subt_amount": _text(sum((i.amount for i in items), ZERO)),
            "subt_open_bal": _text(sum((i.open for i in items), ZERO)),
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
        total = sum(buckets.values(), ZERO)
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
                    *({"value": _text(buckets.get(name, ZERO))} for _, _, name in _AGING),
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
                    *({"value": _text(totals.get(name, ZERO))} for _, _, name in _AGING),
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
