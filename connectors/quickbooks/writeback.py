"""Journal entries back into QuickBooks, exactly once.

Each domain entry has a deterministic id; its QuickBooks ``DocNumber`` is derived from
it (21 characters at most, QuickBooks' limit). Before posting, the entry is looked up
by that number: a retry after a crash or a lost answer finds it and posts nothing.
Receivable lines name the customer, as QuickBooks requires for Accounts Receivable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.quickbooks.client import PlatformError, QuickBooksApi

__all__ = ["doc_number", "journal_entry_body", "post_journal_entry"]


def doc_number(entry_id: str) -> str:
    """The QuickBooks document number of a domain entry: ``FF`` + 19 hex digits."""
    return "FF" + hashlib.sha256(entry_id.encode()).hexdigest()[:19]


def journal_entry_body(entry: Mapping[str, Any], accounts: Mapping[str, str]) -> dict[str, Any]:
    """A ``JournalEntryRequested`` event's data as a QuickBooks JournalEntry."""
    lines = []
    for account, debit, credit, customer in entry["lines"]:
        if account not in accounts:
            raise PlatformError(f"no QuickBooks account is mapped for {account!r}")
        for posting, amount in (("Debit", Decimal(debit)), ("Credit", Decimal(credit))):
            if amount == 0:
                continue
            detail: dict[str, Any] = {
                "PostingType": posting,
                "AccountRef": {"value": accounts[account]},
            }
            if customer:
                detail["Entity"] = {"Type": "Customer", "EntityRef": {"value": customer}}
            lines.append(
                {
                    "Amount": amount,
                    "DetailType": "JournalEntryLineDetail",
                    "Description": entry["memo"][:4000],
                    "JournalEntryLineDetail": detail,
                }
            )
    return {
        "DocNumber": doc_number(entry["entry_id"]),
        "TxnDate": entry["entry_date"],
        "PrivateNote": f"{entry['memo']} (forwardflow {entry['entry_id']})"[:4000],
        "Line": lines,
    }


def post_journal_entry(
    api: QuickBooksApi, entry: Mapping[str, Any], accounts: Mapping[str, str]
) -> tuple[str, bool]:
    """Post the entry unless it is there already; returns its QuickBooks id and whether posted."""
    number = doc_number(entry["entry_id"])
    # the number is hex made here: safe to put in the query
    found = api.query(f"select * from JournalEntry where DocNumber = '{number}'")  # noqa: S608
    if found:
        return str(found[0]["Id"]), False
    created = api.create_journal_entry(journal_entry_body(entry, accounts))
    return str(created["Id"]), True
