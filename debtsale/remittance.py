"""Money received after a sale: what is owed to the buyer, when, and what is paid-before-sale.

Everything here is derived from the ledger's facts and what the close accounted for,
so it does not depend on the order in which payments arrived (DOMAIN rule 4).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from debtsale.agreement import RemittanceTerms
from debtsale.calendar import add_business_days
from debtsale.changes import (
    InvoiceDeleted,
    InvoiceVoided,
    LedgerChange,
    PaymentDeleted,
    PaymentRecorded,
    PaymentVoided,
)
from debtsale.ledger import Application, Ledger
from debtsale.lifecycle import ReceivableState
from debtsale.money import Money, total
from debtsale.portfolio import (
    AnnouncedCandidate,
    AnnouncedDue,
    Portfolio,
    PortfolioLine,
    Remittance,
    Treatment,
)

__all__ = [
    "CandidateSettlement",
    "DueItem",
    "DueSettlement",
    "PaidBeforeSale",
    "Remittance",
    "amounts_due",
    "collections_on",
    "paid_before_sale",
    "settle_announcements",
    "settle_candidates",
]

_RETURNED = (ReceivableState.PUT_BACK, ReceivableState.REPLACED)

MOVES_DUES: tuple[type[LedgerChange], ...] = (
    PaymentRecorded,
    PaymentVoided,
    PaymentDeleted,
    InvoiceVoided,
    InvoiceDeleted,
)
"""Ledger changes that can change what a sold portfolio owes its buyer (or its put-back
candidates): payments, and an invoice leaving the books. An invoice re-recorded (its
balance, its terms) or a credit does not; platforms do not revive a voided invoice."""


@dataclass(frozen=True, slots=True)
class DueItem:
    """Money the seller received on a sold receivable and owes the buyer."""

    receivable_id: str
    customer_id: str
    source: str
    amount: Money
    received_on: date
    due_on: date


@dataclass(frozen=True, slots=True)
class PaidBeforeSale:
    """A payment dated by cut-off that the sale did not account for: a put-back candidate."""

    receivable_id: str
    source: str
    amount: Money
    paid_on: date
    recorded_on: date


def _owed(line: PortfolioLine, payment: Application, cutoff: date) -> Money:
    zero = Money.zero(payment.amount.currency)
    if payment.effective <= cutoff:
        return zero  # the seller's money; a late one is a put-back candidate instead
    accounted = line.accounted_at_close.get(payment.key)
    if accounted is None or accounted[0] is Treatment.OWED_TO_BUYER:
        return payment.amount
    treatment, amount = accounted
    if treatment is Treatment.REDUCED_FACE:
        return (payment.amount - amount).max(zero)  # only what exceeds what cut the price
    return zero


def amounts_due(portfolio: Portfolio, ledger: Ledger, terms: RemittanceTerms) -> list[DueItem]:
    """Every amount owed to the buyer, due ``terms.days`` business days after receipt."""
    if portfolio.closing is None:
        return []
    items = []
    for line in portfolio.sold_lines(replacements=True):
        receivable = ledger.receivable(line.receivable_id)
        if receivable is None or receivable.removal is not None:
            continue
        for payment in receivable.payments():
            if line.returned_on is not None and payment.recorded >= line.returned_on:
                continue  # returned to the seller: later money is the seller's again
            owed = _owed(line, payment, portfolio.cutoff)
            if owed.is_zero:
                continue
            received = max(payment.recorded, portfolio.closing)
            items.append(
                DueItem(
                    receivable_id=line.receivable_id,
                    customer_id=line.customer_id,
                    source=payment.key,
                    amount=owed,
                    received_on=received,
                    due_on=add_business_days(received, terms.days, terms.holidays),
                )
            )
    return sorted(items, key=lambda i: (i.due_on, i.receivable_id, i.source))


def paid_before_sale(
    portfolio: Portfolio, ledger: Ledger, *, returned: bool = False
) -> list[PaidBeforeSale]:
    """Payments dated on or before cut-off that the close did not see (recorded later).

    Receivables already put back or replaced are left out unless ``returned``: they are
    no longer candidates, though their payment still was the seller's.
    """
    if portfolio.closing is None:
        return []
    found = []
    for line in portfolio.sold_lines():
        if line.state in _RETURNED and not returned:
            continue
        receivable = ledger.receivable(line.receivable_id)
        if receivable is None:
            continue
        for payment in receivable.payments():
            if payment.effective > portfolio.cutoff or payment.key in line.accounted_at_close:
                continue
            found.append(
                PaidBeforeSale(
                    line.receivable_id,
                    payment.key,
                    payment.amount,
                    payment.effective,
                    payment.recorded,
                )
            )
    return found


def collections_on(items: list[DueItem], receivable_id: str, currency: str) -> Money:
    """What the buyer got (through the seller) from one receivable."""
    return total((i.amount for i in items if i.receivable_id == receivable_id), currency)


@dataclass(frozen=True, slots=True)
class DueSettlement:
    """What to announce and withdraw so the announced amounts equal what is due now."""

    announce: list[AnnouncedDue]
    withdraw: list[AnnouncedDue]


def _due_key(receivable_id: str, source: str) -> str:
    return f"{receivable_id}|{source}"


def settle_announcements(
    portfolio: Portfolio, items: list[DueItem], on: date | None = None
) -> DueSettlement:
    """Bring ``portfolio.announced_dues`` in line with ``items`` (the amounts due now).

    A payment no longer due (voided, deleted, returned) or due at another amount is
    withdrawn (``on``); one due and not (or no longer) announced is announced, under the
    next edition if it was before. Order-independent: the same facts give the same state.
    """
    current = {_due_key(i.receivable_id, i.source): i for i in items}
    announce: list[AnnouncedDue] = []
    withdraw: list[AnnouncedDue] = []
    for key, held in sorted(portfolio.announced_dues.items()):
        item = current.get(key)
        if not held.withdrawn and (item is None or item.amount != held.amount):
            withdraw.append(held)
            portfolio.announced_dues[key] = replace(held, withdrawn=True, withdrawn_on=on)
    for key, item in sorted(current.items()):
        previous = portfolio.announced_dues.get(key)
        if previous is not None and not previous.withdrawn:
            continue
        announced = AnnouncedDue(
            receivable_id=item.receivable_id,
            source=item.source,
            amount=item.amount,
            received_on=item.received_on,
            due_on=item.due_on,
            edition=0 if previous is None else previous.edition + 1,
        )
        portfolio.announced_dues[key] = announced
        announce.append(announced)
    return DueSettlement(announce, withdraw)


@dataclass(frozen=True, slots=True)
class CandidateSettlement:
    """Paid-before-sale candidates to announce and to withdraw."""

    announce: list[AnnouncedCandidate]
    withdraw: list[AnnouncedCandidate]


def settle_candidates(
    portfolio: Portfolio, found: list[PaidBeforeSale], on: date | None = None
) -> CandidateSettlement:
    """Bring ``portfolio.announced_candidates`` in line with the payments ``found`` now.

    Like ``settle_announcements``: a payment voided, deleted or changed is withdrawn, a
    new (or returning) one announced under its next edition. ``found`` should include
    returned receivables (``paid_before_sale(..., returned=True)``): putting a receivable
    back does not undo that its payment was the seller's.
    """
    current = {_due_key(f.receivable_id, f.source): f for f in found}
    announce: list[AnnouncedCandidate] = []
    withdraw: list[AnnouncedCandidate] = []
    held_all = portfolio.announced_candidates
    for key, held in sorted(held_all.items()):
        item = current.get(key)
        if not held.withdrawn and (item is None or item.amount != held.amount):
            withdraw.append(held)
            held_all[key] = replace(held, withdrawn=True, withdrawn_on=on)
    for key, item in sorted(current.items()):
        previous = held_all.get(key)
        if previous is not None and not previous.withdrawn:
            continue
        announced = AnnouncedCandidate(
            receivable_id=item.receivable_id,
            source=item.source,
            amount=item.amount,
            paid_on=item.paid_on,
            recorded_on=item.recorded_on,
            edition=0 if previous is None else previous.edition + 1,
        )
        held_all[key] = announced
        announce.append(announced)
    return CandidateSettlement(announce, withdraw)
