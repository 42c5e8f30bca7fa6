"""Seed emulated organisations from a scenario (format in docs/xero.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from emulators.xero.app import XeroEmulator

__all__ = ["load_scenario"]


def load_scenario(emulator: XeroEmulator, scenario: dict[str, Any]) -> dict[str, str]:
    """Apply ``scenario`` (``organisations``: each with ``tenant``, ``name``, ``contacts``,
    ``invoices``, ``payments``, ``credit_notes``, ``deleted_payments``); returns ref → id.

    Items carry a ``ref`` that later items use, so a scenario never needs the GUIDs the
    emulator makes (a ``tenant`` may be given to fix the organisation's id).
    """
    ids: dict[str, str] = {}
    for spec in scenario.get("organisations", []):
        org = emulator.organisation(spec.get("tenant"), name=spec.get("name", "Demo Company"))
        ids[spec.get("ref", org.tenant_id)] = org.tenant_id
        for contact in spec.get("contacts", []):
            ids[contact["ref"]] = org.add_contact(contact["name"])["ContactID"]
        for invoice in spec.get("invoices", []):
            made = org.add_invoice(
                ids[invoice["contact"]],
                str(invoice["amount"]),
                date.fromisoformat(invoice["date"]),
                date.fromisoformat(invoice["due"]) if invoice.get("due") else None,
                invoice.get("number"),
            )
            ids[invoice.get("ref", made["InvoiceID"])] = made["InvoiceID"]
            if invoice.get("void"):
                org.void_invoice(made["InvoiceID"])
        for payment in spec.get("payments", []):
            made = org.pay(
                ids[payment["invoice"]], str(payment["amount"]), date.fromisoformat(payment["date"])
            )
            ids[payment.get("ref", made["PaymentID"])] = made["PaymentID"]
            if payment.get("deleted"):
                org.delete_payment(made["PaymentID"])
        for note in spec.get("credit_notes", []):
            made = org.add_credit_note(
                ids[note["contact"]],
                str(note["amount"]),
                date.fromisoformat(note["date"]),
                {ids[ref]: str(amount) for ref, amount in note.get("allocations", {}).items()},
            )
            ids[note.get("ref", made["CreditNoteID"])] = made["CreditNoteID"]
    return ids
