"""From a webhook notice to ledger changes: re-read the resource, treat the read as truth.

Xero's events carry a URL only, and there are no payment events: an INVOICE notice
therefore also re-reads the invoice's payments — those on it now and those last seen
on it (a deleted payment vanishes from the invoice's ``Payments[]`` and comes back
``DELETED`` when read by id) — so a last-minute payment or deletion reaches the
portfolio in seconds, not at the next poll.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.platform import PaymentLinks
from connectors.xero.client import XeroApi
from connectors.xero.mapping import contact_change, credit_change, invoice_change
from connectors.xero.poll import changes_of, payments_known, remember_payments
from connectors.xero.schemas import TENANT_ID, XeroNotice
from debtsale.changes import LedgerChange

__all__ = ["Fetched", "changes_for_notice"]

log = logging.getLogger("forwardflow.xero.fetch")


@dataclass
class Fetched:
    """The changes to publish and, once published, the payment rows whose links to keep."""

    changes: list[LedgerChange]
    payments: list[dict[str, Any]] = field(default_factory=list)

    def remember(self, tenant: str, links: PaymentLinks) -> None:
        """Keep the payments' links: call only after the changes were published."""
        remember_payments(tenant, links, self.payments)


def _payment_ids(invoice: dict[str, Any]) -> set[str]:
    ids = {str(p.get("PaymentID", "")) for p in invoice.get("Payments") or []}
    return {i for i in ids if re.fullmatch(TENANT_ID, i)}


def changes_for_notice(
    api: XeroApi, notice: XeroNotice, links: PaymentLinks, now: datetime | None = None
) -> Fetched:
    """The ledger changes a notice stands for (none for what forwardflow ignores)."""
    seen = notice.occurred or now or datetime.now(UTC)
    tenant, rid = notice.tenant_id, notice.resource_id
    if notice.category == "CONTACT":
        raw = api.one("Contacts", rid)
        return Fetched([contact_change(tenant, raw, seen)] if raw else [])
    if notice.category == "CREDITNOTE":
        raw = api.one("CreditNotes", rid)
        change = credit_change(tenant, raw, seen) if raw else None
        return Fetched([change] if change else [])
    if notice.category == "INVOICE":
        raw = api.one("Invoices", rid)
        if raw is None:
            return Fetched([])
        change = invoice_change(tenant, raw, seen)
        if raw.get("Type", "ACCREC") != "ACCREC":
            return Fetched([])  # a bill: nothing forwardflow tracks
        payments = [
            row
            for pid in sorted(_payment_ids(raw) | payments_known(tenant, links, rid))
            if (row := api.one("Payments", pid)) is not None
        ]
        return Fetched(
            ([change] if change else []) + changes_of(tenant, "Payments", payments, seen), payments
        )
    log.debug("ignored a notice category=%s", notice.category)
    return Fetched([])
