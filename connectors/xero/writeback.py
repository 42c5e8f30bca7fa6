"""Journal entries back into Xero as ManualJournals, exactly once.

Each domain entry has a deterministic id; its Xero reference (``FF`` + 19 hex digits)
is derived from it, written into the journal's narration and used, with the entry id,
as the ``Idempotency-Key`` of the write. Before posting, the journal is looked up by
that reference, so a retry after a crash or a lost answer posts nothing — and if the
look-up misses a journal in flight, Xero's idempotency answers the first one again.

Xero's manual journal lines are signed amounts (debits positive, credits negative)
on account *codes*; the codes per forwardflow journal role are ``xero.accounts``.
Xero keeps Accounts Receivable a system account that manual journals cannot touch, so
the ``accounts_receivable`` role is mapped to a receivables clearing account there.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.platform import Applied, PlatformError, Posted
from connectors.xero.client import XeroApi
from debtsale.events import JournalEntryRequested

__all__ = [
    "apply_entries",
    "idempotency_key",
    "journal_reference",
    "manual_journal_body",
    "post_manual_journal",
]

log = logging.getLogger("forwardflow.xero.writeback")


def journal_reference(entry_id: str) -> str:
    """The reference of a domain entry in Xero: ``FF`` + 19 hex digits."""
    return "FF" + hashlib.sha256(entry_id.encode()).hexdigest()[:19]


def idempotency_key(entry_id: str) -> str:
    """The ``Idempotency-Key`` of an entry's write (Xero takes at most 128 characters)."""
    return "forwardflow-" + hashlib.sha256(entry_id.encode()).hexdigest()


def manual_journal_body(
    entry: JournalEntryRequested, accounts: Mapping[str, str]
) -> dict[str, Any]:
    """A ``JournalEntryRequested`` event as a Xero ManualJournal (signed line amounts)."""
    lines = []
    for line in entry.lines:
        if line.account not in accounts:
            raise PlatformError(f"no Xero account code is mapped for {line.account!r}")
        amount = Decimal(line.debit) - Decimal(line.credit)
        if amount == 0:
            continue
        description = entry.memo[:200] + (f" (contact {line.customer})" if line.customer else "")
        lines.append(
            {
                "LineAmount": amount,
                "AccountCode": accounts[line.account],
                "Description": description,
            }
        )
    return {
        "ManualJournals": [
            {
                "Narration": f"{entry.memo[:400]} [{journal_reference(entry.entry_id)}]",
                "Date": entry.entry_date.isoformat(),
                "Status": "POSTED",
                "LineAmountTypes": "NoTax",
                "JournalLines": lines,
            }
        ]
    }


def _find(api: XeroApi, reference: str) -> str | None:
    # the reference is hex made here: safe inside the filter
    found = api.get("ManualJournals", {"where": f'Narration.Contains("[{reference}]")'}) or {}
    rows = found.get("ManualJournals") or []
    return str(rows[0]["ManualJournalID"]) if rows else None


def post_manual_journal(
    api: XeroApi, entry: JournalEntryRequested, accounts: Mapping[str, str]
) -> tuple[str, bool]:
    """Post the entry unless it is there already; its Xero id and whether it was posted now."""
    reference = journal_reference(entry.entry_id)
    if (held := _find(api, reference)) is not None:
        return held, False
    made = api.put(
        "ManualJournals", manual_journal_body(entry, accounts), idempotency_key(entry.entry_id)
    )
    return str(made["ManualJournalID"]), True


def apply_entries(
    api: XeroApi, portfolio_id: str, customers: Sequence[str], posted: Sequence[Posted]
) -> Applied:
    """Nothing to apply in Xero: its manual journals cannot touch invoices.

    The journals are in the books; the sold invoices keep their ``AmountDue`` (the
    firm's receivable is reclassified through the clearing account). Every customer is
    reported as waiting, so nothing is marked applied that Xero does not show.
    """
    log.info(
        "xero has no journal applications tenant=%s portfolio=%s customers=%d",
        api.tenant_id,
        portfolio_id,
        len(customers),
    )
    return Applied(made={}, waiting=list(customers), refused={})
