"""Journal entries back into QuickBooks, exactly once, and applied to the invoices.

Each domain entry has a deterministic id; its QuickBooks ``DocNumber`` is derived from
it (21 characters at most, QuickBooks' limit). Before posting, the entry is looked up
by that number: a retry after a crash or a lost answer finds it and posts nothing.
Receivable lines name the customer, as QuickBooks requires for Accounts Receivable.

A journal entry's receivable lines are then *applied*, as Intuit documents for journal
entries and credits: a zero-total Payment whose lines link the journal entries
(``LinkedTxn`` ``JournalEntry``) and the invoices they concern (``Invoice``). One such
application per portfolio and customer, found again by its ``PaymentRefNum`` (``FF`` +
hex, like the entries' numbers) and rewritten whenever another of forwardflow's entries
for that customer is posted: it links every entry fully and each invoice by what the
entries credit it less what they charge it, so a sold invoice is closed, one put back
and reinstated is open at the refund, and the receivable charges forwardflow posted
(reclassified payments) are matched. It moves no money: QuickBooks books nothing for it.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.platform import Applied, Posted
from connectors.quickbooks.client import (
    AuthorizationError,
    PlatformError,
    QuickBooksApi,
    TransientPlatformError,
)
from debtsale.events import JournalEntryRequested

__all__ = [
    "APPLICATION_NOTE",
    "Applied",
    "Posted",
    "application_lines",
    "application_number",
    "apply_entries",
    "doc_number",
    "is_forwardflow_number",
    "journal_entry_body",
    "post_journal_entry",
]

APPLICATION_NOTE = "forwardflow: applies its journal entries to the invoices they concern"
_NUMBER = re.compile(r"FF[0-9a-f]{19}")


def doc_number(entry_id: str) -> str:
    """The QuickBooks document number of a domain entry: ``FF`` + 19 hex digits."""
    return "FF" + hashlib.sha256(entry_id.encode()).hexdigest()[:19]


def journal_entry_body(entry: JournalEntryRequested, accounts: Mapping[str, str]) -> dict[str, Any]:
    """A ``JournalEntryRequested`` event as a QuickBooks JournalEntry."""
    lines = []
    for line in entry.lines:
        if line.account not in accounts:
            raise PlatformError(f"no QuickBooks account is mapped for {line.account!r}")
        sides = (("Debit", Decimal(line.debit)), ("Credit", Decimal(line.credit)))
        for posting, amount in sides:
            if amount == 0:
                continue
            detail: dict[str, Any] = {
                "PostingType": posting,
                "AccountRef": {"value": accounts[line.account]},
            }
            if line.customer:
                detail["Entity"] = {"Type": "Customer", "EntityRef": {"value": line.customer}}
            lines.append(
                {
                    "Amount": amount,
                    "DetailType": "JournalEntryLineDetail",
                    "Description": entry.memo[:4000],
                    "JournalEntryLineDetail": detail,
                }
            )
    return {
        "DocNumber": doc_number(entry.entry_id),
        "TxnDate": entry.entry_date.isoformat(),
        "PrivateNote": f"{entry.memo} (forwardflow {entry.entry_id})"[:4000],
        "Line": lines,
    }


def post_journal_entry(
    api: QuickBooksApi, entry: JournalEntryRequested, accounts: Mapping[str, str]
) -> tuple[str, bool]:
    """Post the entry unless it is there already; returns its QuickBooks id and whether posted."""
    number = doc_number(entry.entry_id)
    # the number is hex made here: safe to put in the query
    found = api.query(f"select * from JournalEntry where DocNumber = '{number}'")  # noqa: S608
    if found:
        return str(found[0]["Id"]), False
    created = api.create_journal_entry(journal_entry_body(entry, accounts))
    return str(created["Id"]), True


def is_forwardflow_number(number: str | None) -> bool:
    """True for a ``DocNumber`` or ``PaymentRefNum`` forwardflow made (``FF`` + 19 hex)."""
    return bool(number) and _NUMBER.fullmatch(number or "") is not None


def application_number(portfolio_id: str, customer_id: str) -> str:
    """The ``PaymentRefNum`` of the application of a portfolio's entries for one customer."""
    return doc_number(f"apply:{portfolio_id}:{customer_id}")


def application_lines(customer_id: str, posted: Sequence[Posted]) -> list[dict[str, Any]] | None:
    """The lines of the customer's application, or None while they cannot balance.

    Each journal entry is linked for its net receivable amount for the customer, each
    invoice for what the entries credit it less what they charge it. That balances by
    construction; an invoice charged more than credited (an entry not posted yet) makes
    it wait for the rest.
    """
    by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    by_journal: dict[str, Decimal] = defaultdict(Decimal)
    for entry in posted:
        for customer, invoice, debit, credit in entry.receivables:
            if customer != customer_id:
                continue
            net = Decimal(debit) - Decimal(credit)  # a charge (+) or a credit (−)
            by_journal[entry.platform_id] += net
            by_invoice[invoice] -= net
    if any(amount < 0 for amount in by_invoice.values()):
        return None
    lines = [
        {"Amount": amount, "LinkedTxn": [{"TxnId": invoice, "TxnType": "Invoice"}]}
        for invoice, amount in sorted(by_invoice.items(), key=lambda kv: _order(kv[0]))
        if amount
    ]
    lines += [
        {"Amount": abs(amount), "LinkedTxn": [{"TxnId": journal, "TxnType": "JournalEntry"}]}
        for journal, amount in sorted(by_journal.items(), key=lambda kv: _order(kv[0]))
        if amount
    ]
    return lines


def _order(platform_id: str) -> tuple[int, str]:
    return (int(platform_id), "") if platform_id.isdigit() else (2**63, platform_id)


def _same(held: Mapping[str, Any], lines: list[dict[str, Any]]) -> bool:
    def shape(rows: Sequence[Mapping[str, Any]]) -> list[tuple[Decimal, str, str]]:
        found = []
        for row in rows:
            for link in row.get("LinkedTxn", [])[:1]:
                found.append(
                    (Decimal(str(row["Amount"])), str(link["TxnType"]), str(link["TxnId"]))
                )
        return sorted(found)

    return shape(held.get("Line", [])) == shape(lines)


def _chunks(items: Sequence[str], size: int = 100) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _by_ids(api: QuickBooksApi, entity: str, field: str, values: Sequence[str]) -> list[Any]:
    """Rows whose ``field`` is one of ``values``, a hundred per query."""
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(values))):
        if not all(re.fullmatch(r"[0-9A-Za-z-]+", v) for v in chunk):
            raise PlatformError(f"not a QuickBooks reference: {chunk!r}")
        listed = ", ".join(f"'{v}'" for v in chunk)  # checked just above: letters, digits, -
        rows += api.query(
            f"select * from {entity} where {field} in ({listed}) MAXRESULTS 1000"  # noqa: S608
        )
    return rows


def _links(payment: Mapping[str, Any], txn_type: str) -> dict[str, Decimal]:
    found: dict[str, Decimal] = defaultdict(Decimal)
    for line in payment.get("Line", []):
        for link in line.get("LinkedTxn", [])[:1]:
            if link.get("TxnType") == txn_type:
                found[str(link["TxnId"])] += Decimal(str(line["Amount"]))
    return found


def apply_entries(
    api: QuickBooksApi,
    portfolio_id: str,
    customers: Sequence[str],
    posted: Sequence[Posted],
) -> Applied:
    """Write each customer's application (create, or rewrite if it changed).

    A customer waits when its entries cannot balance yet: an invoice would be applied
    more than is open on it (say, a payment owed to the buyer at close whose entry is
    not posted yet). Idempotent: an application already as wanted is left alone. The
    existing applications and the invoices' balances are read a hundred per query.
    """
    numbers = {c: application_number(portfolio_id, c) for c in customers}
    held = {
        str(row.get("PaymentRefNum")): row
        for row in _by_ids(api, "Payment", "PaymentRefNum", list(numbers.values()))
    }
    wanted = {c: application_lines(c, posted) for c in customers}
    invoices = sorted(
        {
            str(line["LinkedTxn"][0]["TxnId"])
            for lines in wanted.values()
            for line in lines or []
            if line["LinkedTxn"][0]["TxnType"] == "Invoice"
        }
    )
    balance = {
        str(row["Id"]): Decimal(str(row.get("Balance", 0)))
        for row in _by_ids(api, "Invoice", "Id", invoices)
    }
    result = Applied({}, [], {})
    for customer in customers:
        lines, number = wanted[customer], numbers[customer]
        found = held.get(number)
        if lines is None:
            result.waiting.append(customer)
            continue
        if not lines and found is None:
            continue
        if found is not None and _same(found, lines):
            result.made[customer] = str(found["Id"])
            continue
        ours = _links(found, "Invoice") if found is not None else {}
        if any(
            Decimal(str(line["Amount"])) > balance.get(invoice, Decimal(0)) + ours.get(invoice, 0)
            for line in lines
            if line["LinkedTxn"][0]["TxnType"] == "Invoice"
            for invoice in [str(line["LinkedTxn"][0]["TxnId"])]
        ):
            result.waiting.append(customer)
            continue
        try:
            result.made[customer] = _write(
                api, portfolio_id, customer, number, lines, posted, found
            )
        except TransientPlatformError:
            raise
        except AuthorizationError:
            raise
        except PlatformError as error:
            result.refused[customer] = str(error)
    return result


def _write(
    api: QuickBooksApi,
    portfolio_id: str,
    customer_id: str,
    number: str,
    lines: list[dict[str, Any]],
    posted: Sequence[Posted],
    found: Mapping[str, Any] | None,
) -> str:
    dates = sorted(e.entry_date for e in posted if any(r[0] == customer_id for r in e.receivables))
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": Decimal(0),
        "TxnDate": dates[0] if dates else None,
        "PaymentRefNum": number,
        "PrivateNote": f"{APPLICATION_NOTE} (portfolio {portfolio_id})",
        "Line": lines,
    }
    if found is None:
        return str(api.save("Payment", body)["Id"])
    held = found

    def update(now: Mapping[str, Any]) -> dict[str, Any]:
        return {**body, "Id": now["Id"], "SyncToken": now["SyncToken"], "TxnDate": now["TxnDate"]}

    def fresh() -> dict[str, Any]:  # after a stale SyncToken (5010)
        return update(api.read("Payment", str(held["Id"])) or held)

    return str(api.save("Payment", update(held), refresh=fresh)["Id"])
