"""Journal entries back into Xero as ManualJournals, exactly once.

Each domain entry has a deterministic id; its Xero reference (``FF`` + 19 hex digits)
is derived from it, written into the journal's narration and used, with the entry id,
as the ``Idempotency-Key`` of the write. Before posting, the journal is looked up by
that reference, so a retry after a crash or a lost answer posts nothing — and if the
look-up misses a journal in flight, Xero's idempotency answers the first one again.

Xero's manual journal lines are signed amounts (debits positive, credits negative)
on account *codes*; the codes per forwardflow journal role are ``xero.accounts``.
Xero keeps Accounts Receivable a system account that manual journals cannot touch, so
the ``accounts_receivable`` role is a receivables *clearing* account there, and the
entries are applied to the invoices with credit notes whose line is on that clearing
account, allocated to the invoices (one reference per portfolio and customer, an ``FF``
number that polling ignores): the clearing account nets to zero, the sold invoices
close, one put back is reopened.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.platform import (
    Applied,
    AuthorizationError,
    PlatformError,
    Posted,
    TransientPlatformError,
)
from connectors.xero.client import XeroApi
from debtsale.events import JournalEntryRequested

__all__ = [
    "APPLICATION_NOTE",
    "application_reference",
    "apply_entries",
    "idempotency_key",
    "journal_reference",
    "manual_journal_body",
    "post_manual_journal",
    "wanted_allocations",
]

log = logging.getLogger("forwardflow.xero.writeback")

APPLICATION_NOTE = "forwardflow: applies its journal entries to the invoices they concern"


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


def application_reference(portfolio_id: str, customer_id: str) -> str:
    """The reference of the credit notes applying a portfolio's entries for one customer."""
    return journal_reference(f"apply:{portfolio_id}:{customer_id}")


def wanted_allocations(customer_id: str, posted: Sequence[Posted]) -> dict[str, Decimal] | None:
    """What the entries credit each of the customer's invoices, net of what they charge
    it; None while an invoice is charged more than credited (an entry not posted yet)."""
    by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    for entry in posted:
        for customer, invoice, debit, credit in entry.receivables:
            if customer == customer_id:
                by_invoice[invoice] += Decimal(credit) - Decimal(debit)
    if any(amount < 0 for amount in by_invoice.values()):
        return None
    return {invoice: amount for invoice, amount in sorted(by_invoice.items()) if amount}


def _held(notes: Sequence[dict[str, Any]]) -> dict[str, Decimal]:
    held: dict[str, Decimal] = defaultdict(Decimal)
    for note in notes:
        for allocation in note.get("Allocations") or []:
            held[str(allocation["Invoice"]["InvoiceID"])] += Decimal(str(allocation["Amount"]))
    return dict(held)


def _due(api: XeroApi, invoices: Sequence[str]) -> dict[str, Decimal]:
    due: dict[str, Decimal] = {}
    for start in range(0, len(invoices), 50):
        found = api.get("Invoices", {"IDs": ",".join(invoices[start : start + 50])}) or {}
        for row in found.get("Invoices") or []:
            due[str(row["InvoiceID"])] = Decimal(str(row.get("AmountDue", 0)))
    return due


def _applications(api: XeroApi, references: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The live credit notes carrying these references, twenty-five references a query."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(references), 25):
        # the references are hex made here: safe inside the filter
        where = " OR ".join(f'Reference=="{r}"' for r in references[start : start + 25])
        page = 1
        while True:
            rows = (api.get("CreditNotes", {"where": where, "page": str(page)}) or {}).get(
                "CreditNotes"
            ) or []
            for note in rows:
                if note.get("Status") in ("AUTHORISED", "PAID"):
                    found[str(note.get("Reference"))].append(note)
            if len(rows) < 100:
                break
            page += 1
    return found


def _take_back(api: XeroApi, notes: Sequence[dict[str, Any]]) -> None:
    """Undo earlier applications: their allocations deleted, the notes voided."""
    for note in notes:
        note_id = str(note["CreditNoteID"])
        for allocation in note.get("Allocations") or []:
            api.request("DELETE", f"CreditNotes/{note_id}/Allocations/{allocation['AllocationID']}")
        api.request("POST", f"CreditNotes/{note_id}", body={"CreditNotes": [{"Status": "VOIDED"}]})


@dataclass
class _Plan:
    """What one customer's application needs: the notes it has, the note to write."""

    customer: str
    reference: str
    notes: list[dict[str, Any]]
    parts: dict[str, Decimal]  # invoice → amount the new note allocates
    grow: bool  # only more to allocate: the notes held stay
    day: str


def _plan_key(plan: _Plan) -> str:
    """What makes a note's write unique: its reference, the notes it follows, its parts."""
    seen = sorted(str(n["CreditNoteID"]) for n in plan.notes)
    return f"{plan.reference}:{seen}:{sorted(plan.parts.items())}"


def _note_body(plan: _Plan, accounts: Mapping[str, str]) -> dict[str, Any]:
    total = sum(plan.parts.values(), Decimal(0))
    line = {
        "Description": APPLICATION_NOTE,
        "Quantity": 1,
        "UnitAmount": total,
        "AccountCode": accounts["accounts_receivable"],
    }
    return {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": plan.customer},
        "Date": plan.day,
        "Reference": plan.reference,
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "LineItems": [line],
    }


def _plans(
    api: XeroApi,
    portfolio_id: str,
    customers: Sequence[str],
    posted: Sequence[Posted],
    result: Applied,
) -> list[_Plan]:
    """The customers whose application must change and can (the rest go into ``result``)."""
    held_notes = _applications(api, [application_reference(portfolio_id, c) for c in customers])
    pending: list[_Plan] = []
    for customer in customers:
        wanted = wanted_allocations(customer, posted)
        if wanted is None:
            result.waiting.append(customer)
            continue
        reference = application_reference(portfolio_id, customer)
        notes = held_notes.get(reference, [])
        held = _held(notes)
        if held == wanted:
            if notes:
                result.made[customer] = str(notes[-1]["CreditNoteID"])
            continue
        delta = {
            i: wanted.get(i, Decimal(0)) - held.get(i, Decimal(0)) for i in set(wanted) | set(held)
        }
        grow = all(v >= 0 for v in delta.values()) and all(n.get("Allocations") for n in notes)
        days = sorted(e.entry_date for e in posted if any(r[0] == customer for r in e.receivables))
        parts = {i: v for i, v in delta.items() if v > 0} if grow else wanted
        pending.append(_Plan(customer, reference, notes, parts, grow, days[0] if days else ""))
    due = _due(api, sorted({invoice for plan in pending for invoice in plan.parts}))
    plans = []
    for plan in pending:
        back = {} if plan.grow else _held(plan.notes)
        if any(a > due.get(i, Decimal(0)) + back.get(i, Decimal(0)) for i, a in plan.parts.items()):
            result.waiting.append(plan.customer)
        else:
            plans.append(plan)
    return plans


def apply_entries(
    api: XeroApi,
    portfolio_id: str,
    customers: Sequence[str],
    posted: Sequence[Posted],
    accounts: Mapping[str, str],
) -> Applied:
    """Close what the entries settled: per customer, credit notes on the clearing account
    allocated to the invoices (``Reference`` an FF number, so polling ignores them).

    Increases add a credit note for the difference; anything else (an invoice put back
    and reopened, a crash between creating and allocating) takes the earlier ones back
    and writes one anew. A customer waits while an invoice owes less than is to be
    allocated to it. Idempotent: applications already as wanted are left alone. Look-ups
    and new notes go fifty or so at a time; each note's allocations are one call.
    """
    result = Applied({}, [], {})
    writing = []
    for plan in _plans(api, portfolio_id, customers, posted, result):
        try:
            if not plan.grow:
                _take_back(api, plan.notes)
        except (TransientPlatformError, AuthorizationError):
            raise
        except PlatformError as error:
            result.refused[plan.customer] = str(error)
            continue
        if plan.parts:
            writing.append(plan)
    for start in range(0, len(writing), 50):
        batch = writing[start : start + 50]
        key = idempotency_key(";".join(_plan_key(p) for p in batch))
        try:
            made = api.put_many(
                "CreditNotes", {"CreditNotes": [_note_body(p, accounts) for p in batch]}, key
            )
        except (TransientPlatformError, AuthorizationError):
            raise
        except PlatformError as error:
            result.refused.update({p.customer: str(error) for p in batch})
            continue
        ids = {str(n.get("Reference")): str(n["CreditNoteID"]) for n in made}
        for plan in batch:
            allocations = [
                {"Amount": amount, "Invoice": {"InvoiceID": invoice}, "Date": plan.day}
                for invoice, amount in sorted(plan.parts.items())
            ]
            try:
                api.request(
                    "PUT",
                    f"CreditNotes/{ids[plan.reference]}/Allocations",
                    body={"Allocations": allocations},
                )
            except (TransientPlatformError, AuthorizationError):
                raise
            except PlatformError as error:
                result.refused[plan.customer] = str(error)
                continue
            result.made[plan.customer] = ids[plan.reference]
    return result
