"""A synthetic professional-services firm for the demo: three years of invoicing.

Until the QuickBooks emulator lands, the demo's ledger comes from here; the changes
are the same platform-neutral ones a connector publishes.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from debtsale.changes import Documentation, LedgerChange
from debtsale.testing import LedgerBuilder

__all__ = ["seed_firm"]

_STATES = ("IL", "CA", "TX", "NY", "FL", "WA", "OH", "PA", "GA", "NC")
_INDUSTRIES = ("legal", "construction", "retail", "healthcare", "logistics", "software")


def seed_firm(
    as_of: date, customers: int = 200, invoices: int = 2000, seed: int = 2026
) -> LedgerBuilder:
    """Customers, invoices over three years before ``as_of``, partial payments, credits."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    book = LedgerBuilder(tenant="demo-firm")
    for n in range(customers):
        book.customer(
            f"C{n:04d}",
            region=rnd.choice(_STATES),
            industry=rnd.choice(_INDUSTRIES),
            documentation=rnd.choice(list(Documentation)),
            personal_guarantee=rnd.random() < 0.2,
            medical=rnd.random() < 0.03,
        )
    start = as_of - timedelta(days=3 * 365)
    for n in range(invoices):
        customer = f"C{rnd.randrange(customers):04d}"
        issued = start + timedelta(days=rnd.randrange(3 * 365))
        total = rnd.randint(15_000, 900_000) / 100
        book.invoice(f"I{n:05d}", customer, f"{total:.2f}", invoice_date=issued)
        roll = rnd.random()
        if roll < 0.55:  # paid in full, most within terms
            book.pay(
                f"P{n:05d}",
                customer,
                issued + timedelta(days=rnd.randint(10, 60)),
                {f"I{n:05d}": f"{total:.2f}"},
            )
        elif roll < 0.75:  # a partial payment, then silence
            part = round(total * rnd.uniform(0.1, 0.6), 2)
            book.pay(
                f"P{n:05d}",
                customer,
                issued + timedelta(days=rnd.randint(20, 200)),
                {f"I{n:05d}": f"{part:.2f}"},
            )
        elif roll < 0.8:  # a credit memo for a disputed line
            book.credit(
                f"CM{n:05d}",
                customer,
                issued + timedelta(days=rnd.randint(5, 90)),
                {f"I{n:05d}": f"{total * 0.1:.2f}"},
            )
    return book


def last_minute_payments(
    book: LedgerBuilder, receivables: list[str], paid_on: date, count: int = 5, seed: int = 7
) -> list[LedgerChange]:
    """Payments that arrive between cut-off and closing on receivables in the sale."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible demo data
    changes = []
    for receivable_id in rnd.sample(receivables, min(count, len(receivables))):
        receivable = book.ledger.receivable(receivable_id)
        if receivable is None:
            continue
        amount = (
            receivable.balance.amount
            if rnd.random() < 0.4
            else (receivable.balance.amount * 3 / 10).quantize(receivable.balance.amount)
        )
        changes.append(
            book.pay(
                f"LM-{receivable_id}", receivable.customer_id, paid_on, {receivable_id: str(amount)}
            )
        )
    return changes
