"""Reports as data: reconciliation, put-back ledger and amounts due, ready to serialise."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from debtsale.ledger import Ledger
from debtsale.lifecycle import ReceivableState
from debtsale.money import Money, total
from debtsale.portfolio import AnnouncedDue, Portfolio
from debtsale.putback import PutbackStatus
from debtsale.remittance import DueItem, paid_before_sale

__all__ = [
    "AmountsDueReport",
    "PutbackLedger",
    "PutbackLedgerRow",
    "ReconciliationLine",
    "ReconciliationReport",
    "as_data",
]


def as_data(value: Any) -> Any:
    """Plain JSON-able data: Money as decimal strings, dates ISO, enums by value."""
    if isinstance(value, Money):
        return value.as_dict()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: as_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in getattr(value, "_derived", ()):
            data[name] = as_data(getattr(value, name))
        return data
    if isinstance(value, dict):
        return {str(k): as_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [as_data(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


@dataclass(frozen=True, slots=True)
class ReconciliationLine:
    """One receivable: face at cut-off, adjustments, final face, price and state."""

    receivable_id: str
    customer_id: str
    invoice_number: str
    state: str
    reason: str | None
    face_at_cutoff: Money
    adjustments: Money
    final_face: Money
    price: Money
    owed_to_buyer: Money
    days_past_due: int | None  # at the cut-off
    age_bucket: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    """The final reconciliation of a portfolio; totals tie out to the lines.

    Before the close nothing is sold: ``sold`` is 0 and ``in_portfolio`` counts what the
    cut holds; the loss on sale exists from the close on. ``loss_on_sale`` is rule 7 as
    booked at close; ``loss_on_sale_to_date`` adds what was booked against it since:
    refunds not reinstated and replacements given away, less payments dated by cut-off
    that were recorded only after the close (the sale had credited them as receivable).
    """

    portfolio_id: str
    agreement_id: str
    cutoff: date
    closing: date | None
    currency: str
    lines: tuple[ReconciliationLine, ...]
    loss_on_sale: Money | None = None
    refunds: Money | None = None
    refunds_reinstated: Money | None = None
    replacements: Money | None = None
    paid_before_sale: Money | None = None

    _derived = (
        "face_at_cutoff",
        "adjustments",
        "final_face",
        "price",
        "owed_to_buyer",
        "sold",
        "removed",
        "in_portfolio",
        "net_proceeds",
        "loss_on_sale_to_date",
    )

    def _sum(self, name: str) -> Money:
        return total((getattr(line, name) for line in self.lines), self.currency)

    @property
    def face_at_cutoff(self) -> Money:
        """Σ face at cut-off."""
        return self._sum("face_at_cutoff")

    @property
    def adjustments(self) -> Money:
        """Σ adjustments to face."""
        return self._sum("adjustments")

    @property
    def final_face(self) -> Money:
        """Σ final face (removed receivables count 0)."""
        return self._sum("final_face")

    @property
    def price(self) -> Money:
        """Σ price of the sold receivables."""
        return self._sum("price")

    @property
    def owed_to_buyer(self) -> Money:
        """Σ payments between cut-off and closing owed to the buyer."""
        return self._sum("owed_to_buyer")

    @property
    def sold(self) -> int:
        """Receivables sold (none before the close)."""
        if self.closing is None:
            return 0
        return sum(1 for line in self.lines if not line.final_face.is_zero)

    @property
    def removed(self) -> int:
        """Receivables removed before closing."""
        return sum(1 for line in self.lines if line.final_face.is_zero)

    @property
    def in_portfolio(self) -> int:
        """Receivables cut and not removed, while the portfolio is not closed yet."""
        if self.closing is not None:
            return 0
        return sum(1 for line in self.lines if not line.final_face.is_zero)

    @property
    def net_proceeds(self) -> Money | None:
        """Rule 7: price − refunds (from the close on)."""
        if self.closing is None or self.refunds is None:
            return None
        return self.price - self.refunds

    @property
    def loss_on_sale_to_date(self) -> Money | None:
        """The loss on sale the books hold now (see the class docstring)."""
        if self.loss_on_sale is None:
            return None
        zero = Money.zero(self.currency)
        return (
            self.loss_on_sale
            + (self.refunds or zero)
            - (self.refunds_reinstated or zero)
            + (self.replacements or zero)
            - (self.paid_before_sale or zero)
        )

    @classmethod
    def of(cls, portfolio: Portfolio, ledger: Ledger | None = None) -> ReconciliationReport:
        """The reconciliation of ``portfolio`` as it was sold (replacements excluded).

        With the tenant's ``ledger``: days past due for lines cut before they were kept,
        and the payments dated by cut-off recorded after the close.
        """
        zero = Money.zero(portfolio.currency)
        lines = []
        for receivable_id, line in sorted(portfolio.lines.items()):
            if line.replaces is not None:
                continue
            if line.price is not None:
                price = line.price
            else:  # removed (nothing), or not closed yet (the price at cut-off so far)
                price = zero if line.state is ReceivableState.REMOVED else line.price_at_cutoff
            days = line.days_past_due
            if days is None and ledger is not None:
                receivable = ledger.receivable(receivable_id)
                if receivable is not None and receivable.removal is None:
                    days = receivable.days_past_due(portfolio.cutoff)
            lines.append(
                ReconciliationLine(
                    receivable_id=receivable_id,
                    customer_id=line.customer_id,
                    invoice_number=line.invoice_number,
                    state=line.state.value,
                    reason=line.reason,
                    face_at_cutoff=line.face_at_cutoff,
                    adjustments=line.face_adjustments,
                    final_face=line.face_at_cutoff + line.face_adjustments,
                    price=price,
                    owed_to_buyer=line.owed_to_buyer_at_close,
                    days_past_due=days,
                    age_bucket=line.cohort[0],
                    rate=line.rate,
                )
            )
        if portfolio.closing is None:
            return cls(
                portfolio.id,
                portfolio.agreement_id,
                portfolio.cutoff,
                None,
                portfolio.currency,
                tuple(lines),
            )
        accepted = [
            r.decision
            for r in portfolio.putbacks.values()
            if r.decision.status is PutbackStatus.ACCEPTED
        ]
        given = [
            portfolio.lines[d.replacement_id].final_face
            for d in accepted
            if d.replacement_id is not None and d.replacement_id in portfolio.lines
        ]
        early = paid_before_sale(portfolio, ledger, returned=True) if ledger is not None else []
        return cls(
            portfolio.id,
            portfolio.agreement_id,
            portfolio.cutoff,
            portfolio.closing,
            portfolio.currency,
            tuple(lines),
            loss_on_sale=portfolio.loss_on_sale,
            refunds=portfolio.refunds,
            refunds_reinstated=total(
                (d.refund for d in accepted if d.reinstated and d.refund is not None),
                portfolio.currency,
            ),
            replacements=total((f for f in given if f is not None), portfolio.currency),
            paid_before_sale=total((p.amount for p in early), portfolio.currency)
            if ledger is not None
            else None,
        )

    def csv_rows(self) -> Iterable[list[str]]:
        """Header, one row per receivable, then a totals row: amounts as decimal strings."""
        yield [
            "receivable_id",
            "customer_id",
            "invoice_number",
            "state",
            "reason",
            "face_at_cutoff",
            "adjustments",
            "final_face",
            "price",
            "owed_to_buyer",
            "days_past_due",
            "age_bucket",
            "rate",
            "currency",
        ]
        for line in self.lines:
            yield [
                line.receivable_id,
                line.customer_id,
                line.invoice_number,
                line.state,
                line.reason or "",
                str(line.face_at_cutoff.amount),
                str(line.adjustments.amount),
                str(line.final_face.amount),
                str(line.price.amount),
                str(line.owed_to_buyer.amount),
                "" if line.days_past_due is None else str(line.days_past_due),
                line.age_bucket,
                str(line.rate),
                self.currency,
            ]
        counted = (
            f"{self.sold} sold / {self.removed} removed"
            if self.closing is not None
            else f"{self.in_portfolio} in portfolio (not closed) / {self.removed} removed"
        )
        yield [
            "TOTAL",
            "",
            "",
            counted,
            "",
            str(self.face_at_cutoff.amount),
            str(self.adjustments.amount),
            str(self.final_face.amount),
            str(self.price.amount),
            str(self.owed_to_buyer.amount),
            "",
            "",
            "",
            self.currency,
        ]


@dataclass(frozen=True, slots=True)
class PutbackLedgerRow:
    """One put-back request and where it stands."""

    request_id: str
    receivable_id: str
    reason: str
    requested_on: date
    status: PutbackStatus
    rule: str | None
    refund: Money
    replacement_id: str | None


@dataclass(frozen=True, slots=True)
class PutbackLedger:
    """Every put-back request of a portfolio, with refunds and net proceeds."""

    portfolio_id: str
    currency: str
    price: Money
    rows: tuple[PutbackLedgerRow, ...]

    _derived = ("refunds", "net_proceeds")

    @property
    def refunds(self) -> Money:
        """Σ refunds of accepted requests."""
        return total((r.refund for r in self.rows), self.currency)

    @property
    def net_proceeds(self) -> Money:
        """Rule 7: price − refunds."""
        return self.price - self.refunds

    @classmethod
    def of(cls, portfolio: Portfolio) -> PutbackLedger:
        """The put-back ledger of ``portfolio``."""
        zero = Money.zero(portfolio.currency)
        rows = tuple(
            PutbackLedgerRow(
                request_id=r.request.request_id,
                receivable_id=r.request.receivable_id,
                reason=r.request.reason.value,
                requested_on=r.request.requested_on,
                status=r.decision.status,
                rule=r.decision.rule,
                refund=(r.decision.refund or zero)
                if r.decision.status is PutbackStatus.ACCEPTED
                else zero,
                replacement_id=r.decision.replacement_id,
            )
            for _, r in sorted(portfolio.putbacks.items())
        )
        return cls(portfolio.id, portfolio.currency, portfolio.total_price, rows)


@dataclass(frozen=True, slots=True)
class AmountsDueReport:
    """Amounts owed to the buyer, what was remitted, and what is outstanding (a statement)."""

    portfolio_id: str
    as_of: date
    currency: str
    items: tuple[DueItem, ...]
    remitted: Money
    withdrawn: tuple[AnnouncedDue, ...] = ()
    """Amounts announced as due and withdrawn since (their payment voided, deleted or
    changed), listed so the statement explains every announcement the buyer saw."""

    _derived = ("due", "due_now", "outstanding")

    @property
    def due(self) -> Money:
        """Σ everything owed to the buyer so far."""
        return total((i.amount for i in self.items), self.currency)

    @property
    def due_now(self) -> Money:
        """Σ owed and past its due date on ``as_of``, less what was remitted (≥ 0)."""
        overdue = total((i.amount for i in self.items if i.due_on <= self.as_of), self.currency)
        return (overdue - self.remitted).max(Money.zero(self.currency))

    @property
    def outstanding(self) -> Money:
        """Σ owed less remitted."""
        return self.due - self.remitted

    @classmethod
    def of(cls, portfolio: Portfolio, items: Iterable[DueItem], as_of: date) -> AmountsDueReport:
        """The statement of ``portfolio`` on ``as_of``."""
        withdrawn = tuple(
            held
            for _, held in sorted(portfolio.announced_dues.items())
            if held.withdrawn and (held.withdrawn_on is None or held.withdrawn_on <= as_of)
        )
        return cls(
            portfolio.id, as_of, portfolio.currency, tuple(items), portfolio.remitted, withdrawn
        )
