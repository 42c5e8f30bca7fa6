"""From a change notice to ledger changes: re-read the entity, treat the read as truth.

Notices carry ids only. A payment's invoices are remembered (QuickBooks tells nothing
but the id of a deleted payment), so when a payment is deleted, voided or re-linked,
the invoices it used to pay are re-read too: their balances are the truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.platform import PaymentLinks
from connectors.quickbooks.client import QuickBooksApi
from connectors.quickbooks.mapping import (
    credits_undone,
    customer_change,
    invoice_change,
    invoices_linked,
    is_own_application,
    merge_change,
    payment_change,
    payment_invoice_ids,
)
from connectors.quickbooks.schemas import ChangeNotice
from debtsale.changes import LedgerChange, PaymentDeleted, PaymentVoided

__all__ = ["Fetched", "changes_for_notice"]

log = logging.getLogger("forwardflow.quickbooks.fetch")


def _invoice(api: QuickBooksApi, realm: str, invoice_id: str, seen: datetime) -> LedgerChange:
    raw = api.read("Invoice", invoice_id)
    return invoice_change(realm, raw or {"Id": invoice_id, "status": "Deleted"}, seen)


@dataclass(frozen=True, slots=True)
class Fetched:
    """The changes to publish and, once they are published, the payment links to keep."""

    changes: list[LedgerChange]
    links: tuple[str, str, set[str]] | None = None  # realm, payment id, invoice ids

    def remember(self, links: PaymentLinks) -> None:
        """Keep the payment's links: call only after the changes were published."""
        if self.links is not None:
            links.remember(*self.links)


def changes_for_notice(
    api: QuickBooksApi, notice: ChangeNotice, links: PaymentLinks, now: datetime | None = None
) -> Fetched:
    """The ledger changes a notice stands for (none for entities forwardflow ignores)."""
    seen = notice.occurred or now or datetime.now(UTC)
    realm = notice.realm_id
    if notice.entity == "Invoice":
        return Fetched([_invoice(api, realm, notice.entity_id, seen)])
    if notice.entity == "Payment":
        before = links.invoices(realm, notice.entity_id)
        raw = api.read("Payment", notice.entity_id)
        if raw is not None and is_own_application(raw):
            return Fetched([])  # forwardflow's own: the invoices' notices come on their own
        deleted = {"Id": notice.entity_id, "status": "Deleted"}
        change = (
            payment_change(realm, deleted, seen)
            if raw is None
            else payment_change(realm, raw, seen, voided=notice.operation == "voided")
        )
        changes = [change] if change is not None else []
        now_paid: set[str] = set()
        if isinstance(change, PaymentVoided | PaymentDeleted):  # a credit it applied goes too
            changes += credits_undone(realm, notice.entity_id, before, seen)
        elif raw is not None:
            now_paid = payment_invoice_ids(raw)
        invoices = invoices_linked(before | now_paid)
        changes += [_invoice(api, realm, i, seen) for i in sorted(invoices)]
        return Fetched(changes, (realm, notice.entity_id, now_paid))
    if notice.entity == "Customer":
        changes = []
        if notice.operation == "merged" and notice.deleted_id:
            changes.append(merge_change(realm, notice.deleted_id, notice.entity_id, seen))
        raw = api.read("Customer", notice.entity_id)
        if raw is not None:
            changes.append(customer_change(realm, raw, seen))
        return Fetched(changes)
    log.debug("ignored a notice for entity=%s", notice.entity)
    return Fetched([])
