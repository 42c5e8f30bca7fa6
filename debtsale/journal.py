"""The accounting entries each step implies, balanced, with per-customer receivable lines."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from debtsale.errors import DomainError
from debtsale.events import JournalEntryRequested
from debtsale.money import Money, total
from debtsale.portfolio import AnnouncedDue, Portfolio, Remittance
from debtsale.putback import PutbackDecision
from debtsale.remittance import DueItem

__all__ = [
    "Account",
    "JournalEntry",
    "JournalLine",
    "due_withdrawn_entry",
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
    """One debit or credit; receivable lines name the customer."""

    account: Account
    debit: Money
    credit: Money
    customer_id: str | None = None


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
                (
                    line.account.value,
                    str(line.debit.amount),
                    str(line.credit.amount),
                    line.customer_id,
                )
                for line in self.lines
            ),
        )


def _debit(account: Account, amount: Money, customer: str | None = None) -> JournalLine:
    return JournalLine(account, amount, Money.zero(amount.currency), customer)


def _credit(account: Account, amount: Money, customer: str | None = None) -> JournalLine:
    return JournalLine(account, Money.zero(amount.currency), amount, customer)


def _nonzero(lines: list[JournalLine]) -> tuple[JournalLine, ...]:
    return tuple(line for line in lines if not (line.debit.is_zero and line.credit.is_zero))


def sale_entry(portfolio: Portfolio) -> JournalEntry:
    """Dr Cash (price), Dr Allowance, Dr Loss on sale; Cr AR per customer (their face)."""
    if portfolio.closing is None:
        raise DomainError("journal.sale_closed", f"portfolio {portfolio.id} is not closed")
    face_by_customer: dict[str, Money] = defaultdict(lambda: Money.zero(portfolio.currency))
    for line in portfolio.sold_lines():
        assert line.final_face is not None
        face_by_customer[line.customer_id] += line.final_face
    loss = portfolio.loss_on_sale
    lines = [
        _debit(Account.CASH, portfolio.total_price),
        _debit(Account.ALLOWANCE, portfolio.total_allowance),
        _debit(Account.LOSS_ON_SALE, loss)
        if not loss.is_negative
        else _credit(Account.LOSS_ON_SALE, -loss),  # a gain, should price exceed carrying
        *(
            _credit(Account.ACCOUNTS_RECEIVABLE, face, customer)
            for customer, face in sorted(face_by_customer.items())
        ),
    ]
    return JournalEntry(
        f"sale:{portfolio.id}",
        portfolio.closing,
        f"Sale of receivables, portfolio {portfolio.id}",
        _nonzero(lines),
    )


def putback_refund_entry(
    portfolio: Portfolio, decision: PutbackDecision, customer_id: str, *, reinstate: bool = False
) -> JournalEntry:
    """Dr Loss on sale / Cr Cash; or, to pursue it again, Dr AR at the refund / Cr Cash."""
    if decision.refund is None or decision.decided_on is None:
        raise DomainError("journal.putback_accepted", "only an accepted put-back is refunded")
    debit = (
        _debit(Account.ACCOUNTS_RECEIVABLE, decision.refund, customer_id)
        if reinstate
        else _debit(Account.LOSS_ON_SALE, decision.refund)
    )
    return JournalEntry(
        f"putback:{portfolio.id}:{decision.request_id}",
        decision.decided_on,
        f"Put-back refund, request {decision.request_id}",
        (debit, _credit(Account.CASH, decision.refund)),
    )


def replacement_entry(portfolio: Portfolio, decision: PutbackDecision) -> JournalEntry:
    """A replacement gives away another receivable: Dr Loss on sale / Cr AR (its face)."""
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
            _credit(Account.ACCOUNTS_RECEIVABLE, line.final_face, line.customer_id),
        ),
    )


def payment_after_sale_entry(portfolio: Portfolio, item: DueItem | AnnouncedDue) -> JournalEntry:
    """Dr Cash / Cr Due to buyer: the money is the buyer's, AR is not touched again."""
    entry_id = f"due:{portfolio.id}:{item.receivable_id}:{item.source}:{item.amount.amount}"
    edition = item.edition if isinstance(item, AnnouncedDue) else 0
    return JournalEntry(
        f"{entry_id}:{edition}" if edition else entry_id,
        item.received_on,
        f"Collected for the buyer on {item.receivable_id}",
        (_debit(Account.CASH, item.amount), _credit(Account.DUE_TO_BUYER, item.amount)),
    )


def due_withdrawn_entry(portfolio: Portfolio, held: AnnouncedDue, on: date) -> JournalEntry:
    """Dr Due to buyer / Cr Cash: the payment-after-sale entry reversed, dated ``on``."""
    return JournalEntry(
        f"undue:{portfolio.id}:{held.receivable_id}:{held.source}:{held.amount.amount}"
        f":{held.edition}",
        on,
        f"Payment on {held.receivable_id} voided or changed: no longer owed to the buyer",
        (_debit(Account.DUE_TO_BUYER, held.amount), _credit(Account.CASH, held.amount)),
    )


def remittance_entry(portfolio: Portfolio, remittance: Remittance) -> JournalEntry:
    """Dr Due to buyer / Cr Cash."""
    return JournalEntry(
        f"remittance:{portfolio.id}:{remittance.remittance_id}",
        remittance.paid_on,
        f"Remittance {remittance.remittance_id} to the buyer",
        (_debit(Account.DUE_TO_BUYER, remittance.amount), _credit(Account.CASH, remittance.amount)),
    )
