"""Commands: what someone asks the portfolio to do, in the imperative."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from debtsale.agreement import PutbackReason
from debtsale.lifecycle import ExclusionReason
from debtsale.money import Money

__all__ = [
    "ClosePortfolio",
    "Command",
    "CutPortfolio",
    "DecidePutback",
    "FlagReceivable",
    "RecordRemittance",
    "RemoveReceivable",
    "RequestPutback",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    """Every command has an id chosen by its sender, so a resend is recognised."""

    command_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CutPortfolio(Command):
    """Select the eligible receivables under an agreement and freeze their face."""

    tenant: str
    portfolio_id: str
    agreement_id: str
    cutoff: date
    only_advised: bool = False
    """Only the cohorts whose offer beats internal recovery (``debtsale.cutscope``)."""
    excluded_customers: tuple[str, ...] = ()
    """Customers whose receivables stay out of this sale."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ClosePortfolio(Command):
    """Reconcile to the closing date and sell."""

    portfolio_id: str
    closing: date


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoveReceivable(Command):
    """Drop a receivable from a live portfolio, with the reason."""

    portfolio_id: str
    receivable_id: str
    reason: ExclusionReason


@dataclass(frozen=True, kw_only=True, slots=True)
class FlagReceivable(Command):
    """Record an exclusion fact (bankruptcy, dispute …) for a receivable from a date."""

    tenant: str
    receivable_id: str
    reason: ExclusionReason
    since: date


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestPutback(Command):
    """The buyer asks to return a receivable."""

    portfolio_id: str
    request_id: str
    receivable_id: str
    reason: PutbackReason
    fact_date: date
    requested_on: date
    evidence: dict[str, str] = field(default_factory=dict)
    buyer_collections: Money | None = None
    replacement_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DecidePutback(Command):
    """The seller accepts (refund or replacement) or declines a pending request."""

    portfolio_id: str
    request_id: str
    accept: bool
    decided_on: date
    reinstate: bool = False
    replacement_id: str | None = None
    note: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordRemittance(Command):
    """The seller paid the buyer what it had collected for it."""

    portfolio_id: str
    remittance_id: str
    paid_on: date
    amount: Money
