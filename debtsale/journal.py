"""The accounting entries each step implies, balanced, with per-customer receivable lines.

The platform has booked what it saw before forwardflow posts anything: every payment
forwardflow knows of reached it as a payment applied to an invoice, which QuickBooks
(and Xero) book Dr bank or Undeposited Funds / Cr Accounts Receivable for the customer.
These templates post only the difference between the economics (DOMAIN.md "Accounting
entries") and that booking, so cash is never booked twice and the receivable of a sold
customer comes back to zero. Each receivable line also says which invoices it concerns,
so the connector can apply it to them (docs/decisions.md, "Books that tie out").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from debtsale.errors import DomainError
from debtsale.events import EntryLine, JournalEntryRequested, ReceivableLine
from debtsale.money import Money, total
from debtsale.portfolio import AnnouncedCandidate, AnnouncedDue, Portfolio, Remittance
from debtsale.putback import PutbackDecision
from debtsale.remittance import DueItem

__all__ = [
    "Account",
    "JournalEntry",
    "JournalLine",
    "due_withdrawn_entry",
    "paid_before_sale_entry",
    "paid_before_sale_withdrawn_entry",
    "payment_after_sale_entry",
    "putback_refund_entry",
    "remittance_entry",
    "replacement_entry",
    "sale_entry",
]


class Account(StrEnum):
    """Account roles; the connector maps each to an account of the firm's chart."""

    CASH = "cash"
    ACCOUNTS_RECEIVABLE = "accounts_receivable"
    ALLOWANCE = "allowance_for_doubtful_accounts"
    LOSS_ON_SALE = "loss_on_sale_of_receivables"
    DUE_TO_BUYER = "due_to_buyer"


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One debit or credit; receivable lines name the customer and the invoices it concerns.

    ``receivables`` splits a receivable line by invoice (platform id, amount in the line's
    direction); the amounts add up to the line's.
    """

    account: Account
    debit: Money
    credit: Money
    customer_id: str | None = None
    receivables: tuple[tuple[str, Money], ...] = ()

    @property
    def amount(self) -> Money:
        """The line's amount, whichever side it is on."""
        return self.credit if self.debit.is_zero else self.debit


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced entry with a deterministic id, so a retry can never post it twice."""

    entry_id: str
    entry_date: date
    memo: str
    lines: tuple[JournalLine, ...]

    def __post_init__(self) -> None:
        if not self.lines:
            raise DomainError("journal.lines", f"entry {self.entry_id} has no lines")
        currency = self.lines[0].debit.currency
        debits = total((line.debit for line in self.lines), currency)
        credits = total((line.credit for line in self.lines), currency)
        if debits != credits:
            raise DomainError(
                "journal.balanced", f"entry {self.entry_id}: debits {debits} ≠ credits {credits}"
            )
        for line in self.lines:
            if line.debit.is_negative or line.credit.is_negative:
                raise DomainError("journal.positive", f"entry {self.entry_id}: negative amount")
            if line.account is Account.ACCOUNTS_RECEIVABLE and not line.customer_id:
                raise DomainError(
                    "journal.ar_customer",
                    f"entry {self.entry_id}: a receivable line must name the customer",
                )
            if (
                line.receivables
                and total((amount for _, amount in line.receivables), line.amount.currency)
                != line.amount
            ):
                raise DomainError(
                    "journal.receivables",
                    f"entry {self.entry_id}: the invoices of a line do not add up to it",
                )

    @property
    def amount(self) -> Money:
        """Σ debits (= Σ credits)."""
        return total((line.debit for line in self.lines), self.lines[0].debit.currency)

    def as_event(self, portfolio_id: str) -> JournalEntryRequested:
        """The request to post this entry, for the outbox."""
        return JournalEntryRequested(
            portfolio_id=portfolio_id,
            entry_id=self.entry_id,
            entry_date=self.entry_date,
            memo=self.memo,
            lines=tuple(
                EntryLine(
                    line.account.value,
                    str(line.debit.amount),
                    str(line.credit.amount),
                    line.customer_id,
                )
                for line in self.lines
            ),
            receivables=tuple(
                ReceivableLine(line.customer_id or "", receivable, *_sides(line, amount))
                for line in self.lines
                for receivable, amount in line.receivables
            ),
        )


def _sides(line: JournalLine, amount: Money) -> tuple[str, str]:
    """``amount`` as (debit, credit) decimal strings on the line's side."""
    zero = str(Money.zero(amount.currency).amount)
    return (str(amount.amount), zero) if line.credit.is_zero else (zero, str(amount.amount))


def _debit(
    account: Account, amount: Money, customer: str | None = None, receivable: str | None = None
) -> JournalLine:
    split = ((receivable, amount),) if receivable else ()
    return JournalLine(account, amount, Money.zero(amount.currency), customer, split)


def _credit(
    account: Account, amount: Money, customer: str | None = None, receivable: str | None = None
) -> JournalLine:
    split = ((receivable, amount),) if receivable else ()
    return JournalLine(account, Money.zero(amount.currency), amount, customer, split)


def _nonzero(lines: list[JournalLine]) -> tuple[JournalLine, ...]:
    return tuple(line for line in lines if not (line.debit.is_zero and line.credit.is_zero))


def sale_entry(portfolio: Portfolio) -> JournalEntry:
    """Dr Cash (price), Dr Allowance, Dr Loss on sale; Cr AR per customer (their face).

    Each customer's credit is split by sold invoice (its final face), which is what the
    connector applies to close them. The platform's own bookings up to the close are
    already in the invoices' balances: a payment between cut-off and closing that reduced
    the face left less to credit; one owed to the buyer is reclassified on its own
    (``payment_after_sale_entry``).
    """
    if portfolio.closing is None:
        raise DomainError("journal.sale_closed", f"portfolio {portfolio.id} is not closed")
    by_customer: dict[str, list[tuple[str, Money]]] = defaultdict(list)
    for line in portfolio.sold_lines():
        assert line.final_face is not None
        by_customer[line.customer_id].append((line.receivable_id, line.final_face))
    loss = portfolio.loss_on_sale
    zero = Money.zero(portfolio.currency)
    lines = [
        _debit(Account.CASH, portfolio.total_price),
        _debit(Account.ALLOWANCE, portfolio.total_allowance),
        _debit(Account.LOSS_ON_SALE, loss)
        if not loss.is_negative
        else _credit(Account.LOSS_ON_SALE, -loss),  # a gain, should price exceed carrying
        *(
            JournalLine(
                Account.ACCOUNTS_RECEIVABLE,
                zero,
                total((face for _, face in sold), portfolio.currency),
                customer,
                tuple(sold),
            )
            for customer, sold in sorted(by_customer.items())
        ),
    ]
    return JournalEntry(
        f"sale:{portfolio.id}",
        portfolio.closing,
        f"Sale of receivables, portfolio {portfolio.id}",
        _nonzero(lines),
    )


def putback_refund_entry(
    portfolio: Portfolio,
    decision: PutbackDecision,
    customer_id: str,
    *,
    reinstate: bool | None = None,
) -> JournalEntry:
    """Dr Loss on sale / Cr Cash; or, to pursue it again, Dr AR at the refund / Cr Cash.

    The refund is cash that really leaves. Reinstated, the receivable comes back at what
    was paid for it (the refund), not at its face; the connector reopens the invoice at
    that amount. ``reinstate`` defaults to the decision's own.
    """
    if decision.refund is None or decision.decided_on is None:
        raise DomainError("journal.putback_accepted", "only an accepted put-back is refunded")
    record = portfolio.putbacks.get(decision.request_id)
    receivable = record.request.receivable_id if record else None
    back = decision.reinstated if reinstate is None else reinstate
    debit = (
        _debit(Account.ACCOUNTS_RECEIVABLE, decision.refund, customer_id, receivable)
        if back
        else _debit(Account.LOSS_ON_SALE, decision.refund)
    )
    return JournalEntry(
        f"putback:{portfolio.id}:{decision.request_id}",
        decision.decided_on,
        f"Put-back refund, request {decision.request_id}",
        (debit, _credit(Account.CASH, decision.refund)),
    )


def replacement_entry(portfolio: Portfolio, decision: PutbackDecision) -> JournalEntry:
    """A replacement gives away another receivable: Dr Loss on sale / Cr AR (its face).

    Its invoice is closed like a sold one (the credit names it).
    """
    if decision.replacement_id is None or decision.decided_on is None:
        raise DomainError("journal.replacement", "not a replacement")
    line = portfolio.line(decision.replacement_id)
    assert line.final_face is not None
    return JournalEntry(
        f"replacement:{portfolio.id}:{decision.request_id}",
        decision.decided_on,
        f"Replacement receivable, request {decision.request_id}",
        (
            _debit(Account.LOSS_ON_SALE, line.final_face),
            _credit(
                Account.ACCOUNTS_RECEIVABLE, line.final_face, line.customer_id, line.receivable_id
            ),
        ),
    )


def _customer(portfolio: Portfolio, receivable_id: str) -> str:
    return portfolio.line(receivable_id).customer_id


def payment_after_sale_entry(portfolio: Portfolio, item: DueItem | AnnouncedDue) -> JournalEntry:
    """Dr AR / Cr Due to buyer: the platform's payment is reclassified, not booked again.

    The platform booked the payment as Dr Cash / Cr AR against the sold invoice: the cash
    is real, but the receivable was sold, so its credit moves to what is owed to the
    buyer. (The economics, Dr Cash / Cr Due to buyer, is that booking plus this entry.)
    The same holds for a payment between cut-off and closing owed to the buyer at close.
    """
    entry_id = f"due:{portfolio.id}:{item.receivable_id}:{item.source}:{item.amount.amount}"
    edition = item.edition if isinstance(item, AnnouncedDue) else 0
    customer = _customer(portfolio, item.receivable_id)
    return JournalEntry(
        f"{entry_id}:{edition}" if edition else entry_id,
        item.received_on,
        f"Collected for the buyer on {item.receivable_id}",
        (
            _debit(Account.ACCOUNTS_RECEIVABLE, item.amount, customer, item.receivable_id),
            _credit(Account.DUE_TO_BUYER, item.amount),
        ),
    )


def due_withdrawn_entry(portfolio: Portfolio, held: AnnouncedDue, on: date) -> JournalEntry:
    """Dr Due to buyer / Cr AR: the reclassification reversed, dated ``on``.

    The platform reversed its own booking when the payment was voided, deleted or
    changed (Dr AR / Cr Cash); this takes back what was owed to the buyer.
    """
    customer = _customer(portfolio, held.receivable_id)
    return JournalEntry(
        f"undue:{portfolio.id}:{held.receivable_id}:{held.source}:{held.amount.amount}"
        f":{held.edition}",
        on,
        f"Payment on {held.receivable_id} voided or changed: no longer owed to the buyer",
        (
            _debit(Account.DUE_TO_BUYER, held.amount),
            _credit(Account.ACCOUNTS_RECEIVABLE, held.amount, customer, held.receivable_id),
        ),
    )


def paid_before_sale_entry(portfolio: Portfolio, held: AnnouncedCandidate) -> JournalEntry:
    """Dr AR / Cr Loss on sale: a payment dated by cut-off, recorded after the close.

    The platform booked it (Dr Cash / Cr AR) into a receivable the sale had already
    credited at its full face: the sale derecognised more than there was, so the loss
    booked at close was overstated by exactly this payment. The money is the seller's
    (it predates the sale); the receivable becomes a put-back candidate, and a refund, if
    the buyer claims one, is booked as any other. Dated when it was recorded.
    """
    customer = _customer(portfolio, held.receivable_id)
    entry_id = f"pbs:{portfolio.id}:{held.receivable_id}:{held.source}:{held.amount.amount}"
    return JournalEntry(
        f"{entry_id}:{held.edition}" if held.edition else entry_id,
        max(held.recorded_on, portfolio.closing or held.recorded_on),
        f"Paid before the sale, recorded after it: {held.receivable_id}",
        (
            _debit(Account.ACCOUNTS_RECEIVABLE, held.amount, customer, held.receivable_id),
            _credit(Account.LOSS_ON_SALE, held.amount),
        ),
    )


def paid_before_sale_withdrawn_entry(
    portfolio: Portfolio, held: AnnouncedCandidate, on: date
) -> JournalEntry:
    """Dr Loss on sale / Cr AR: ``paid_before_sale_entry`` reversed (its payment undone)."""
    customer = _customer(portfolio, held.receivable_id)
    return JournalEntry(
        f"unpbs:{portfolio.id}:{held.receivable_id}:{held.source}:{held.amount.amount}"
        f":{held.edition}",
        on,
        f"Payment before the sale on {held.receivable_id} voided or changed",
        (
            _debit(Account.LOSS_ON_SALE, held.amount),
            _credit(Account.ACCOUNTS_RECEIVABLE, held.amount, customer, held.receivable_id),
        ),
    )


def remittance_entry(portfolio: Portfolio, remittance: Remittance) -> JournalEntry:
    """Dr Due to buyer / Cr Cash: the buyer is paid; this cash really leaves."""
    return JournalEntry(
        f"remittance:{portfolio.id}:{remittance.remittance_id}",
        remittance.paid_on,
        f"Remittance {remittance.remittance_id} to the buyer",
        (_debit(Account.DUE_TO_BUYER, remittance.amount), _credit(Account.CASH, remittance.amount)),
    )
