"""What the buyer is told after the sale: put-back outcomes and remittance statements.

Pure: rows of strings for two files forwardflow leaves in the buyer's outbox
(docs/sale-file.md, "After the sale"). A put-back result names each decided request
with its outcome, the rule that decided it, and the refund with its date. A remittance
statement lists every amount collected after the sale that is the buyer's, when it is
due and whether it was paid, and reverses an amount whose payment was later voided,
deleted or changed; it is cumulative, so each statement stands on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from debtsale.money import Money
from debtsale.portfolio import Portfolio
from debtsale.putback import PutbackStatus
from debtsale.reports import AmountsDueReport

__all__ = [
    "PUTBACK_RESULT_COLUMNS",
    "STATEMENT_COLUMNS",
    "DecidedPutback",
    "decided_putbacks",
    "putback_result_rows",
    "statement_digest",
    "statement_rows",
]

PUTBACK_RESULT_COLUMNS = (
    "portfolio_id",
    "request_id",
    "receivable_id",
    "reason",
    "status",
    "rule",
    "detail",
    "refund_amount",
    "refund_date",
    "replacement_id",
    "currency",
    "decided_on",
)

STATEMENT_COLUMNS = (
    "portfolio_id",
    "entry",
    "receivable_id",
    "customer_id",
    "source",
    "received_on",
    "due_on",
    "amount",
    "currency",
    "status",
    "as_of",
)


@dataclass(frozen=True, slots=True)
class DecidedPutback:
    """A request that has its final answer (accepted or rejected), to tell the buyer."""

    portfolio_id: str
    request_id: str
    values: tuple[str, ...]  # in PUTBACK_RESULT_COLUMNS order


def decided_putbacks(portfolio: Portfolio) -> list[DecidedPutback]:
    """Every request of the portfolio that is decided, oldest request first.

    The refund date is the decision date: the refund is owed from then (a replacement
    has no refund and names the receivable given instead).
    """
    found = []
    for request_id, record in sorted(portfolio.putbacks.items()):
        decision = record.decision
        if decision.status is PutbackStatus.PENDING:
            continue
        accepted = decision.status is PutbackStatus.ACCEPTED
        refund = decision.refund if accepted and decision.refund is not None else None
        decided = decision.decided_on.isoformat() if decision.decided_on else ""
        found.append(
            DecidedPutback(
                portfolio.id,
                request_id,
                (
                    portfolio.id,
                    request_id,
                    record.request.receivable_id,
                    record.request.reason.value,
                    decision.status.value,
                    decision.rule or "",
                    decision.detail,
                    "" if refund is None else str(refund.amount),
                    decided if refund is not None and not refund.is_zero else "",
                    decision.replacement_id or "",
                    portfolio.currency,
                    decided,
                ),
            )
        )
    return found


def putback_result_rows(decided: Iterable[DecidedPutback]) -> list[list[str]]:
    """The result file's rows (without the header)."""
    return [list(d.values) for d in decided]


def _money(money: Money) -> str:
    return str(money.amount)


def statement_rows(portfolio: Portfolio, report: AmountsDueReport) -> list[list[str]]:
    """The remittance statement's rows: collections, reversals, remittances, totals.

    Remittances pay the collections in due-date order: each collection is ``paid``,
    ``partly_paid`` or ``unpaid`` (``overdue`` once past its due date), or ``reversed``
    when its payment was voided, deleted or changed (a ``reversal`` row follows).
    """
    as_of, currency = report.as_of.isoformat(), report.currency
    rows: list[list[str]] = []
    left = report.remitted.amount
    for item in sorted(report.items, key=lambda i: (i.due_on, i.receivable_id, i.source)):
        paid = min(left, item.amount.amount)
        left -= paid
        if paid == item.amount.amount:
            status = "paid"
        elif paid > 0:
            status = "partly_paid"
        else:
            status = "overdue" if item.due_on <= report.as_of else "unpaid"
        rows.append(
            [
                portfolio.id,
                "collection",
                item.receivable_id,
                item.customer_id,
                item.source,
                item.received_on.isoformat(),
                item.due_on.isoformat(),
                _money(item.amount),
                currency,
                status,
                as_of,
            ]
        )
    for held in report.withdrawn:
        customer = portfolio.lines[held.receivable_id].customer_id
        for entry, amount, status, on in (
            ("collection", held.amount, "reversed", held.received_on),
            ("reversal", -held.amount, "reversed", held.withdrawn_on or report.as_of),
        ):
            rows.append(
                [
                    portfolio.id,
                    entry,
                    held.receivable_id,
                    customer,
                    held.source,
                    on.isoformat(),
                    held.due_on.isoformat(),
                    _money(amount),
                    currency,
                    status,
                    as_of,
                ]
            )
    for remittance in sorted(portfolio.remittances.values(), key=lambda r: r.paid_on):
        rows.append(
            [
                portfolio.id,
                "remittance",
                "",
                "",
                remittance.remittance_id,
                remittance.paid_on.isoformat(),
                "",
                _money(remittance.amount),
                currency,
                "paid",
                as_of,
            ]
        )
    for entry, amount in (
        ("total_due", report.due),
        ("total_remitted", report.remitted),
        ("total_outstanding", report.outstanding),
    ):
        rows.append([portfolio.id, entry, "", "", "", "", "", _money(amount), currency, "", as_of])
    return rows


def statement_digest(rows: list[list[str]]) -> str:
    """What a statement says, without its date: a new statement is sent when this changes."""
    content = [row[:9] for row in rows]  # every column but status and as_of
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()
