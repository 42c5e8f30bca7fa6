"""The debt-sale domain: money, receivables, agreements, rules and reports. Pure: no I/O.

Commands go in (``debtsale.commands``), ledger changes are applied to a ``Ledger``
(``debtsale.changes``), a ``Portfolio`` is cut, closed and put back, and events
(``debtsale.events``), journal entries (``debtsale.journal``) and reports
(``debtsale.reports``) come out.
"""

from debtsale.agreement import Agreement, CutoffPolicy, PutbackReason, RefundMethod
from debtsale.errors import CurrencyMismatchError, DomainError, IllegalTransitionError
from debtsale.ledger import Ledger, Receivable
from debtsale.lifecycle import ExclusionReason, ReceivableState
from debtsale.money import Money
from debtsale.portfolio import Portfolio, PortfolioStatus
from debtsale.putback import PutbackRequest, PutbackStatus
from debtsale.statute import StatuteTable

__all__ = [
    "Agreement",
    "CurrencyMismatchError",
    "CutoffPolicy",
    "DomainError",
    "ExclusionReason",
    "IllegalTransitionError",
    "Ledger",
    "Money",
    "Portfolio",
    "PortfolioStatus",
    "PutbackReason",
    "PutbackRequest",
    "PutbackStatus",
    "Receivable",
    "ReceivableState",
    "RefundMethod",
    "StatuteTable",
]
