"""Domain events: what happened, in the past tense, for the outbox to publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from debtsale.money import Money

__all__ = [
    "AmountDueToBuyer",
    "AmountDueWithdrawn",
    "DomainEvent",
    "EntryLine",
    "JournalEntryRequested",
    "PortfolioClosed",
    "PortfolioCut",
    "PutbackAccepted",
    "PutbackCandidateFound",
    "PutbackCandidateWithdrawn",
    "PutbackRejected",
    "PutbackRequested",
    "ReceivableLine",
    "ReceivableRemoved",
    "RemittanceRecorded",
]


class EntryLine(NamedTuple):
    """One line of a requested journal entry: an account role, debit, credit (decimal
    strings) and, for a receivable line, the customer. On the wire: a 4-item list."""

    account: str
    debit: str
    credit: str
    customer: str | None = None


class ReceivableLine(NamedTuple):
    """A receivable line split by invoice: which the platform applies it to. On the
    wire: a 4-item list."""

    customer: str
    receivable: str
    debit: str
    credit: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DomainEvent:
    """Every event names the portfolio it belongs to and has a deterministic id."""

    portfolio_id: str

    @property
    def event_id(self) -> str:
        """Stable across retries: the same fact always gets the same id."""
        return f"{type(self).__name__}:{self.portfolio_id}:{self._key()}"

    def _key(self) -> str:
        return ""


@dataclass(frozen=True, kw_only=True, slots=True)
class PortfolioCut(DomainEvent):
    """Receivables were selected and their face frozen at the cut-off date."""

    agreement_id: str
    cutoff: date
    count: int
    face: Money
    price: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class ReceivableRemoved(DomainEvent):
    """A receivable left the portfolio before closing."""

    receivable_id: str
    reason: str

    def _key(self) -> str:
        return self.receivable_id


@dataclass(frozen=True, kw_only=True, slots=True)
class PortfolioClosed(DomainEvent):
    """The sale completed: receivables are sold at their final face and price."""

    agreement_id: str
    closing: date
    count: int
    face: Money
    price: Money
    loss_on_sale: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class AmountDueToBuyer(DomainEvent):
    """The seller received money on a sold receivable and owes it to the buyer."""

    receivable_id: str
    source: str
    amount: Money
    received_on: date
    due_on: date
    edition: int = 0  # announced again after a withdrawal: 1, 2 …

    def _key(self) -> str:
        key = f"{self.receivable_id}:{self.source}:{self.amount.amount}"
        return f"{key}:{self.edition}" if self.edition else key


@dataclass(frozen=True, kw_only=True, slots=True)
class AmountDueWithdrawn(DomainEvent):
    """An amount announced as due is owed no more: its payment was voided, deleted or changed."""

    receivable_id: str
    source: str
    amount: Money
    edition: int
    withdrawn_on: date

    def _key(self) -> str:
        return f"{self.receivable_id}:{self.source}:{self.amount.amount}:{self.edition}"


@dataclass(frozen=True, kw_only=True, slots=True)
class PutbackCandidateFound(DomainEvent):
    """A sold receivable the buyer may put back: a fact from before the sale came to light.

    ``reason`` is the put-back reason it supports (``paid_before_sale`` for a payment
    dated by cut-off and recorded after the close, ``bankruptcy`` … for a flag whose
    fact predates the closing); ``source`` names the payment or flag.
    """

    receivable_id: str
    reason: str
    source: str
    fact_date: date
    found_on: date | None  # when it was recorded (a payment); unknown for a flag
    amount: Money | None = None
    edition: int = 0

    def _key(self) -> str:
        key = f"{self.receivable_id}:{self.source}"
        if self.amount is not None:
            key = f"{key}:{self.amount.amount}"
        return f"{key}:{self.edition}" if self.edition else key


@dataclass(frozen=True, kw_only=True, slots=True)
class PutbackCandidateWithdrawn(DomainEvent):
    """A candidate is one no more: the payment behind it was voided, deleted or changed."""

    receivable_id: str
    reason: str
    source: str
    amount: Money | None
    edition: int
    withdrawn_on: date

    def _key(self) -> str:
        amount = f":{self.amount.amount}" if self.amount is not None else ""
        return f"{self.receivable_id}:{self.source}{amount}:{self.edition}"


@dataclass(frozen=True, kw_only=True, slots=True)
class PutbackRequested(DomainEvent):
    """The buyer asked to return a receivable; the rules passed, a decision is due."""

    request_id: str
    receivable_id: str
    reason: str

    def _key(self) -> str:
        return self.request_id


@dataclass(frozen=True, kw_only=True, slots=True)
class PutbackAccepted(DomainEvent):
    """A put-back was accepted: refund (or replacement) owed to the buyer."""

    request_id: str
    receivable_id: str
    refund: Money
    replacement_id: str | None

    def _key(self) -> str:
        return self.request_id


@dataclass(frozen=True, kw_only=True, slots=True)
class PutbackRejected(DomainEvent):
    """A put-back was rejected; ``rule`` names the rule it failed."""

    request_id: str
    receivable_id: str
    rule: str
    detail: str

    def _key(self) -> str:
        return self.request_id


@dataclass(frozen=True, kw_only=True, slots=True)
class RemittanceRecorded(DomainEvent):
    """The seller paid the buyer what it had collected for it."""

    remittance_id: str
    amount: Money
    paid_on: date

    def _key(self) -> str:
        return self.remittance_id


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalEntryRequested(DomainEvent):
    """An accounting entry must be posted to the ledger (see ``debtsale.journal``)."""

    entry_id: str
    entry_date: date
    memo: str
    lines: tuple[EntryLine, ...]
    receivables: tuple[ReceivableLine, ...] = ()
    """The receivable lines split by invoice: customer, receivable, debit, credit. The
    connector applies them to the invoices (a sold invoice closed, a reinstated one
    reopened at the refund)."""

    def _key(self) -> str:
        return self.entry_id
