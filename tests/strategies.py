"""Hypothesis strategies shared by the test layers: plausible ledger histories."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from testkit.builders import LedgerBuilder

START = date(2024, 1, 1)
CUTOFF = date(2025, 6, 30)
CLOSING = date(2025, 7, 15)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("4000"), places=2)
days = st.integers(min_value=0, max_value=640).map(lambda n: START + timedelta(days=n))
# Payments cluster around the sale so the interesting cases (between cut-off and closing,
# after closing, recorded late) come up often, not once in a thousand histories.
around_sale = st.integers(min_value=-10, max_value=40).map(lambda n: CUTOFF + timedelta(days=n))
payment_days = st.one_of(days, around_sale, around_sale, around_sale)
# Payments are mostly partial, as in real collections, with the odd one settling in full.
payment_amounts = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("600"), places=2),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("600"), places=2),
    amounts,
)
OPERATIONS = (
    "pay",
    "pay",
    "repay",
    "credit",
    "void_payment",
    "delete_payment",
    "void_invoice",
    "reinvoice",
    "merge",
)


@st.composite
def histories(draw: st.DrawFn) -> LedgerBuilder:
    """A firm's ledger after a random but plausible sequence of platform changes."""
    book = LedgerBuilder()
    customers = [f"C{n}" for n in range(draw(st.integers(1, 3)))]
    for customer in customers:
        book.customer(customer, region=draw(st.sampled_from(["IL", "CA", "TX", "NY"])))
    invoices = [f"I{n}" for n in range(draw(st.integers(1, 6)))]
    owner = {}
    for invoice in invoices:
        owner[invoice] = draw(st.sampled_from(customers))
        book.invoice(invoice, owner[invoice], str(draw(amounts)), invoice_date=draw(days))
    payments: list[str] = []
    for step, operation in enumerate(
        draw(st.lists(st.sampled_from(OPERATIONS), min_size=2, max_size=20))
    ):
        invoice = draw(st.sampled_from(invoices))
        split = {
            i: str(draw(payment_amounts))
            for i in draw(st.lists(st.sampled_from(invoices), min_size=1, max_size=3, unique=True))
        }
        paid_on = draw(payment_days)
        recorded = paid_on + timedelta(days=draw(st.sampled_from([0, 0, 3, 40])))
        if operation == "pay" or (operation == "repay" and not payments):
            payments.append(f"P{step}")
            book.pay(payments[-1], owner[invoice], paid_on, split, recorded_on=recorded)
        elif operation == "repay":
            book.pay(
                draw(st.sampled_from(payments)),
                owner[invoice],
                paid_on,
                split,
                recorded_on=recorded,
            )
        elif operation == "credit":
            book.credit(f"CM{step}", owner[invoice], paid_on, split)
        elif operation in ("void_payment", "delete_payment") and payments:
            getattr(book, operation)(draw(st.sampled_from(payments)))
        elif operation == "void_invoice":
            book.void_invoice(invoice)
        elif operation == "reinvoice":
            book.invoice(invoice, owner[invoice], str(draw(amounts)), invoice_date=draw(days))
        elif operation == "merge" and len(customers) > 1:
            merged, into = draw(st.permutations(customers))[:2]
            book.merge(merged, into)
    return book


def random_history(rnd: random.Random, size: int) -> LedgerBuilder:
    """A seeded history of about ``size`` changes, for pipeline tests that need volume."""
    book = LedgerBuilder()
    customers = [f"C{n}" for n in range(max(2, size // 40))]
    for customer in customers:
        book.customer(customer, region=rnd.choice(["IL", "CA", "TX", "NY"]))
    invoices: dict[str, str] = {}
    payments: list[str] = []

    def amount(high: int) -> str:
        return f"{rnd.randint(1, high * 100) / 100:.2f}"

    def day() -> date:
        return START + timedelta(days=rnd.randint(0, 640))

    while len(book.changes) < size:
        roll = rnd.random()
        if roll < 0.3 or not invoices:
            invoice = f"I{len(invoices)}"
            invoices[invoice] = rnd.choice(customers)
            book.invoice(invoice, invoices[invoice], amount(4000), invoice_date=day())
        elif roll < 0.65:
            invoice = rnd.choice(list(invoices))
            payments.append(f"P{len(book.changes)}")
            book.pay(payments[-1], invoices[invoice], day(), {invoice: amount(600)})
        elif roll < 0.75 and payments:
            getattr(book, rnd.choice(["void_payment", "delete_payment"]))(rnd.choice(payments))
        elif roll < 0.85:
            invoice = rnd.choice(list(invoices))
            book.credit(f"CM{len(book.changes)}", invoices[invoice], day(), {invoice: amount(300)})
        elif roll < 0.95:
            invoice = rnd.choice(list(invoices))
            book.invoice(invoice, invoices[invoice], amount(4000), invoice_date=day())
        else:
            book.void_invoice(rnd.choice(list(invoices)))
    return book
