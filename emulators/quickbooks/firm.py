"""A realistic professional-services firm in the QuickBooks emulator, for the demo.

Three years of invoicing for 500+ customers across states: most invoices paid, some
partly, credit memos for disputed lines, and a tail of old unpaid debt — what a firm
sells. Reproducible (seeded).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from emulators.quickbooks.company import EmulatedCompany

__all__ = ["SeededFirm", "seed_emulated_firm"]

_STATES = ("IL", "CA", "TX", "NY", "FL", "WA", "OH", "PA", "GA", "NC")
_STREETS = ("Elm St", "Oak Ave", "Main St", "Lake Rd", "Cedar Ln", "Park Blvd")
_SUFFIXES = ("LLC", "Inc.", "Group", "Partners", "& Co.", "Holdings")
_WORDS = ("Harbor", "Summit", "Prairie", "Granite", "Willow", "Beacon", "Pioneer", "Cobalt")


@dataclass
class SeededFirm:
    """Ids the demo needs afterwards."""

    customers: list[str] = field(default_factory=list)
    open_invoices: list[str] = field(default_factory=list)
    disputed: list[str] = field(default_factory=list)
    bankrupt: list[str] = field(default_factory=list)


def seed_emulated_firm(
    company: EmulatedCompany,
    as_of: date,
    customers: int = 520,
    invoices: int = 5200,
    seed: int = 2026,
) -> SeededFirm:
    """Fill ``company`` with three years of a firm's receivables before ``as_of``."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    firm = SeededFirm()
    for n in range(customers):
        name = f"{rnd.choice(_WORDS)} {rnd.choice(_WORDS)} {rnd.choice(_SUFFIXES)} {n}"
        made = company.add_customer(
            name,
            CompanyName=name,
            BillAddr={
                "Line1": f"{rnd.randint(1, 999)} {rnd.choice(_STREETS)}",
                "City": "Springfield",
                "CountrySubDivisionCode": rnd.choice(_STATES),
                "PostalCode": f"{rnd.randint(10000, 99999)}",
                "Country": "US",
            },
            PrimaryEmailAddr={"Address": f"ap{n}@example.com"},
        )
        firm.customers.append(str(made["Id"]))
    start = as_of - timedelta(days=3 * 365)
    for _ in range(invoices):
        customer = rnd.choice(firm.customers)
        issued = start + timedelta(days=rnd.randrange(3 * 365 - 20))
        total = Decimal(rnd.randint(15_000, 900_000)) / 100
        invoice = company.add_invoice(customer, total, issued)["Id"]
        roll = rnd.random()
        if roll < 0.55:  # paid in full, mostly within terms
            company.post_payment(
                customer, issued + timedelta(days=rnd.randint(10, 60)), {invoice: total}
            )
            continue
        if roll < 0.75:  # a partial payment, then silence
            part = (total * Decimal(str(round(rnd.uniform(0.1, 0.6), 2)))).quantize(Decimal("0.01"))
            paid_on = min(issued + timedelta(days=rnd.randint(20, 200)), as_of)
            company.post_payment(customer, paid_on, {invoice: part})
        elif roll < 0.8:  # a credit memo for a disputed line, applied
            credit = (total / 10).quantize(Decimal("0.01"))
            company.post_payment(
                customer,
                min(issued + timedelta(days=rnd.randint(5, 90)), as_of),
                {invoice: credit},
                credit_memo=f"CM-{invoice}",
            )
        firm.open_invoices.append(invoice)
    old = [i for i in firm.open_invoices if i in company.entities["Invoice"]]
    firm.disputed = rnd.sample(old, 6)
    firm.bankrupt = rnd.sample([i for i in old if i not in firm.disputed], 6)
    return firm
