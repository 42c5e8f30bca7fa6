"""Seed an emulated company from a scenario: customers, invoices, payments, voids."""

from __future__ import annotations

from datetime import date
from typing import Any

from emulators.quickbooks.company import EmulatedCompany

__all__ = ["load_scenario"]


def load_scenario(company: EmulatedCompany, scenario: dict[str, Any]) -> dict[str, str]:
    """Apply ``scenario`` (keys ``customers``, ``invoices``, ``payments``); returns ref → id.

    Each item may carry a ``ref`` that later items use (``"customer": "c1"``), so a
    scenario file never needs to know the ids the emulator assigns.
    """
    ids: dict[str, str] = {}
    for customer in scenario.get("customers", []):
        fields = {k: v for k, v in customer.items() if k not in ("ref", "name")}
        ids[customer["ref"]] = company.add_customer(customer["name"], **fields)["Id"]
    for invoice in scenario.get("invoices", []):
        made = company.add_invoice(
            ids[invoice["customer"]],
            str(invoice["amount"]),
            date.fromisoformat(invoice["date"]),
            date.fromisoformat(invoice["due"]) if invoice.get("due") else None,
            invoice.get("number"),
        )
        ids[invoice.get("ref", made["Id"])] = made["Id"]
        if invoice.get("void"):
            company.void_invoice(made["Id"])
    for payment in scenario.get("payments", []):
        made = company.post_payment(
            ids[payment["customer"]],
            date.fromisoformat(payment["date"]),
            {ids[ref]: str(amount) for ref, amount in payment["applies"].items()},
        )
        ids[payment.get("ref", made["Id"])] = made["Id"]
    return ids
