"""Catch-up by polling: Xero sends no payment events and no deletions, so they are read.

Per organisation and collection a checkpoint says "everything modified before this
instant was published". A catch-up asks for what was modified since (the
``If-Modified-Since`` header, pages of 100), publishes it, and only then moves the
checkpoint — to when the call began, less a margin for clock skew, never backwards —
so a crash between fetch and publish re-fetches and never skips. Voided and deleted
payments, invoices and credit notes come back as status changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.platform import CatchUp, Checkpoints, PaymentLinks
from connectors.xero.client import XeroApi
from connectors.xero.mapping import (
    contact_change,
    credit_change,
    invoice_change,
    payment_change,
    payment_invoice_id,
)
from debtsale.changes import LedgerChange

__all__ = ["COLLECTIONS", "backfill", "catch_up", "changes_of", "remember_payments"]

log = logging.getLogger("forwardflow.xero.poll")

COLLECTIONS = ("Contacts", "Invoices", "CreditNotes", "Overpayments", "Prepayments", "Payments")
"""What is polled, in this order: a payment's invoice is known before the payment."""
_FIRST_LOOKBACK = timedelta(days=30)
_SKEW = timedelta(seconds=30)
_INVOICE_LINK = "invoice:"  # links kept per invoice: the payments last seen on it


def changes_of(
    tenant: str, collection: str, rows: Iterable[dict[str, Any]], seen: datetime
) -> list[LedgerChange]:
    """The ledger changes rows of one collection mean (bills and drafts dropped)."""
    mappers: dict[str, Callable[[dict[str, Any]], LedgerChange | None]] = {
        "Contacts": lambda row: contact_change(tenant, row, seen),
        "Invoices": lambda row: invoice_change(tenant, row, seen),
        "Payments": lambda row: payment_change(tenant, row, seen),
        "CreditNotes": lambda row: credit_change(tenant, row, seen, "CreditNote"),
        "Overpayments": lambda row: credit_change(tenant, row, seen, "Overpayment"),
        "Prepayments": lambda row: credit_change(tenant, row, seen, "Prepayment"),
    }
    changes = []
    for row in rows:
        try:
            change = mappers[collection](row)
        except ValueError as error:  # one unreadable row must not stop the rest, forever
            log.warning("xero %s row skipped tenant=%s: %s", collection, tenant, str(error)[:200])
            continue
        if change is not None:
            changes.append(change)
    return changes


def remember_payments(tenant: str, links: PaymentLinks, rows: Iterable[dict[str, Any]]) -> None:
    """Keep which invoice each payment pays, and which payments each invoice had, so an
    invoice notice re-reads payments deleted since (they vanish from ``Payments[]``)."""
    for row in rows:
        invoice = payment_invoice_id(row)
        payment = str(row["PaymentID"])
        live = str(row.get("Status", "AUTHORISED")) not in ("DELETED", "VOIDED")
        links.remember(tenant, payment, {invoice} if invoice and live else set())
        if invoice:
            held = links.invoices(tenant, _INVOICE_LINK + invoice)
            links.remember(
                tenant, _INVOICE_LINK + invoice, held | {payment} if live else held - {payment}
            )


def payments_known(tenant: str, links: PaymentLinks, invoice_id: str) -> set[str]:
    """The payments last seen on an invoice."""
    return links.invoices(tenant, _INVOICE_LINK + invoice_id)


def catch_up(
    api: XeroApi,
    checkpoints: Checkpoints,
    links: PaymentLinks,
    publish: Callable[[list[LedgerChange]], None],
    *,
    now: datetime | None = None,
    sweep: timedelta | None = None,
) -> CatchUp:
    """Read every collection modified since its checkpoint, publish, then move checkpoints.

    A ``sweep`` reads at least that far back whatever the checkpoint says; the
    checkpoint still only moves forward.
    """
    tenant = api.tenant_id
    report = CatchUp()
    for collection in COLLECTIONS:
        began = now or datetime.now(UTC)
        held = checkpoints.get(tenant, collection)
        since = held or began - _FIRST_LOOKBACK
        if sweep is not None:
            since = min(since, began - sweep)
        rows = api.modified(collection, since)
        publish(changes_of(tenant, collection, rows, began))
        if collection == "Payments":
            remember_payments(tenant, links, rows)
        checkpoints.set(tenant, collection, max(held, began - _SKEW) if held else began - _SKEW)
        report.fetched[collection] = len(rows)
    return report


def _open(invoice: dict[str, Any]) -> bool:
    return (
        invoice.get("Type", "ACCREC") == "ACCREC"
        and invoice.get("Status") == "AUTHORISED"
        and Decimal(str(invoice.get("AmountDue", 0))) > 0
    )


def _allocated_to(row: dict[str, Any], invoices: set[str]) -> bool:
    return any(
        str((a.get("Invoice") or {}).get("InvoiceID")) in invoices
        for a in row.get("Allocations") or []
    )


def backfill(
    api: XeroApi,
    checkpoints: Checkpoints,
    links: PaymentLinks,
    publish: Callable[[list[LedgerChange]], None],
    progress: Callable[[int, str], None] | None = None,
) -> int:
    """First connection: every contact, the open invoices, their payments and credits.

    Afterwards every checkpoint is set to when the backfill began, so polling carries on
    from there. Returns how many changes were published.
    """
    tenant, began, published = api.tenant_id, datetime.now(UTC), 0

    def send(collection: str, rows: list[dict[str, Any]]) -> None:
        nonlocal published
        for start in range(0, len(rows), 200):
            changes = changes_of(tenant, collection, rows[start : start + 200], began)
            publish(changes)
            published += len(changes)
            if progress:
                progress(len(changes), collection)

    send("Contacts", api.modified("Contacts", None))
    invoices = [row for row in api.modified("Invoices", None) if _open(row)]
    send("Invoices", invoices)
    open_ids = {str(row["InvoiceID"]) for row in invoices}
    for collection in ("CreditNotes", "Overpayments", "Prepayments"):
        send(collection, [r for r in api.modified(collection, None) if _allocated_to(r, open_ids)])
    payments = [
        row
        for row in api.modified("Payments", None)
        if payment_invoice_id(row) in open_ids and row.get("Status") != "DELETED"
    ]
    send("Payments", payments)
    remember_payments(tenant, links, payments)
    for collection in COLLECTIONS:
        held = checkpoints.get(tenant, collection)
        checkpoints.set(tenant, collection, max(held, began - _SKEW) if held else began - _SKEW)
    return published
