"""A realistic professional-services firm in the Xero emulator, for the demo.

Three years of invoicing for hundreds of contacts: most invoices paid, some partly,
credit notes for disputed lines, a tail of old unpaid debt. Reproducible (seeded).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from emulators.xero.org import EmulatedOrganisation

__all__ = ["SeededXeroFirm", "seed_xero_firm"]

_STATES = ("IL", "CA", "TX", "NY", "FL", "WA", "OH", "PA", "GA", "NC")
_STREETS = ("Elm St", "Oak Ave", "Main St", "Lake Rd", "Cedar Ln", "Park Blvd")
_SUFFIXES = ("LLC", "Inc.", "Group", "Partners", "& Co.", "Holdings")
_WORDS = ("Harbor", "Summit", "Prairie", "Granite", "Willow", "Beacon", "Pioneer", "Cobalt")


@dataclass
class SeededXeroFirm:
    """Ids the demo needs afterwards."""

    tenant_id: str = ""
    customers: list[str] = field(default_factory=list)
    open_invoices: list[str] = field(default_factory=list)
    disputed: list[str] = field(default_factory=list)
    bankrupt: list[str] = field(default_factory=list)


def seed_xero_firm(
    org: EmulatedOrganisation,
    as_of: date,
    customers: int = 520,
    invoices: int = 5200,
    seed: int = 2026,
) -> SeededXeroFirm:
    """Fill ``org`` with three years of a firm's receivables before ``as_of``."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    firm = SeededXeroFirm(tenant_id=org.tenant_id)
    for n in range(customers):
        name = f"{rnd.choice(_WORDS)} {rnd.choice(_WORDS)} {rnd.choice(_SUFFIXES)} {n}"
        address = {
            "AddressType": "POBOX",
            "AddressLine1": f"{rnd.randint(1, 999)} {rnd.choice(_STREETS)}",
            "City": "Springfield",
            "Region": rnd.choice(_STATES),
            "PostalCode": f"{rnd.randint(10000, 99999)}",
            "Country": "US",
        }
        made = org.add_contact(name, EmailAddress=f"ap{n}@example.com", Addresses=[address])
        firm.customers.append(str(made["ContactID"]))
    start = as_of - timedelta(days=3 * 365)
    for _ in range(invoices):
        contact = rnd.choice(firm.customers)
        issued = start + timedelta(days=rnd.randrange(3 * 365 - 20))
        total = Decimal(rnd.randint(15_000, 900_000)) / 100
        invoice = org.add_invoice(contact, total, issued)["InvoiceID"]
        roll = rnd.random()
        if roll < 0.55:  # paid in full, mostly within terms
            org.pay(invoice, total, min(issued + timedelta(days=rnd.randint(10, 60)), as_of))
            continue
        if roll < 0.75:  # a partial payment, then silence
            part = (total * Decimal(str(round(rnd.uniform(0.1, 0.6), 2)))).quantize(Decimal("0.01"))
            org.pay(invoice, part, min(issued + timedelta(days=rnd.randint(20, 200)), as_of))
        elif roll < 0.8:  # a credit note for a disputed line, allocated
            credit = (total / 10).quantize(Decimal("0.01"))
            day = min(issued + timedelta(days=rnd.randint(5, 90)), as_of)
            org.add_credit_note(contact, credit, day, {invoice: credit})
        firm.open_invoices.append(invoice)
    firm.disputed = rnd.sample(firm.open_invoices, 6)
    firm.bankrupt = rnd.sample([i for i in firm.open_invoices if i not in firm.disputed], 6)
    return firm
