"""What the console's pages show, read from the same domain reports as the CLI's ``--json``.

Each function here is the console's twin of a CLI command's ``work``: the same store
reads, the same ``debtsale`` report. A ledger is read once per change (a cheap count and
newest version decide), so a page over 100,000 receivables does not decode them all again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import func, select

from debtsale.changes import Documentation
from debtsale.commands import CutPortfolio
from debtsale.ledger import Ledger, Receivable
from debtsale.money import Money
from debtsale.portfolio import Portfolio
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport, PutbackLedger, ReconciliationReport
from debtsale.segmentation import age_bucket, balance_tier
from debtsale.valuation import ValuationReport, value_receivables
from forwardflow.bootstrap import Forwardflow
from forwardflow.cli.dispatch import portfolio_of
from forwardflow.companies import companies
from forwardflow.store.platforms import Posting
from forwardflow.store.tables import (
    ledger_entities,
    platform_checkpoints,
    platform_postings,
    receivable_flags,
)
from forwardflow.store.tables import portfolios as portfolios_table
from handlers.portfolio import select_for_cut

__all__ = [
    "AgingCell",
    "CompanyRow",
    "CutPreview",
    "Reconciled",
    "aging",
    "cached",
    "company_rows",
    "cut_preview",
    "ledger_of",
    "postings",
    "putback_ledger",
    "reconciled",
    "reconciliation",
    "stamp",
    "statement",
    "tenants",
    "valuation",
]

_CACHE: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64
T = TypeVar("T")


def _ledger_stamp(app: Forwardflow, tenant: str) -> tuple[Any, ...]:
    with app.engine.connect() as connection:
        c = ledger_entities.c
        row = connection.execute(
            select(
                func.count(),
                func.max(c.version_micros),
                func.sum(c.version_micros % 1_000_000_007),  # any version that moved
                func.sum(c.version_sequence),
            ).where(c.tenant == tenant)
        ).one()
    return tuple(str(value) for value in row)


def stamp(app: Forwardflow, tenant: str) -> tuple[Any, ...]:
    """What a tenant's reports depend on: its ledger, the portfolios and the flags.

    Cheap (three aggregates); any change to them changes the stamp.
    """
    with app.engine.connect() as connection:
        p, f = portfolios_table.c, receivable_flags.c
        held = connection.execute(
            select(func.count(), func.max(p.updated_at), func.sum(p.version))
        ).one()
        flagged = connection.execute(
            select(func.count(), func.max(f.flagged_at)).where(f.tenant == tenant)
        ).one()
    return (*_ledger_stamp(app, tenant), *map(str, held), *map(str, flagged))


def cached(app: Forwardflow, key: tuple[Any, ...], tenant: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept while the tenant's ``stamp`` is unchanged (a few dozen kept)."""
    full, now = (str(app.engine.url), *key), stamp(app, tenant)
    with _CACHE_LOCK:
        held = _CACHE.get(full)
        if held is not None and held[0] == now:
            _CACHE.move_to_end(full)
            return cast(T, held[1])
    value = compute()
    with _CACHE_LOCK:
        _CACHE[full] = (now, value)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def ledger_of(app: Forwardflow, tenant: str) -> Ledger:
    """The tenant's ledger, decoded again only when its entities changed."""

    def load() -> Ledger:
        with app.unit_of_work() as uow:
            return uow.ledger.load(tenant)

    return cached(app, ("ledger", tenant), tenant, load)


def tenants(app: Forwardflow) -> list[str]:
    """Every company (tenant) with a ledger, by name."""
    with app.engine.connect() as connection:
        rows = connection.execute(select(ledger_entities.c.tenant).distinct()).scalars()
        return sorted(str(r) for r in rows)


@dataclass(frozen=True, slots=True)
class CompanyRow:
    """A connected company: token health and the last catch-up (never its tokens)."""

    platform: str
    title: str
    company_id: str
    tenant: str
    health: str
    refresh_expires_at: datetime
    last_catch_up: datetime | None


def company_rows(app: Forwardflow) -> list[CompanyRow]:
    """Every connected company of every registered platform."""
    now = datetime.now(UTC)
    titles = {name: platform.title for name, platform in app.platforms.items()}
    rows = []
    with app.engine.connect() as connection:
        for company in companies(app):
            c = platform_checkpoints.c
            last = connection.execute(
                select(func.max(c.changed_since)).where(
                    c.platform == company.platform, c.company_id == company.company_id
                )
            ).scalar_one_or_none()
            days = (company.refresh_expires_at - now).days
            health = "expired: reconnect" if days < 0 else ("expires soon" if days < 14 else "ok")
            rows.append(
                CompanyRow(
                    company.platform,
                    titles.get(company.platform, company.platform),
                    company.company_id,
                    company.tenant,
                    health,
                    company.refresh_expires_at,
                    last,
                )
            )
    return rows


@dataclass(frozen=True, slots=True)
class AgingCell:
    """Open receivables of one cohort: age bucket × balance tier × documentation."""

    age_bucket: str
    balance_tier: str
    documentation: str
    count: int
    balance: Money


def _documentation(ledger: Ledger, receivable: Receivable) -> str:
    profile = ledger.profile(receivable.customer_id)
    return (profile.documentation if profile else Documentation.INVOICE_ONLY).value


def aging(ledger: Ledger, as_of: date, currency: str) -> list[AgingCell]:
    """Open balances on ``as_of`` by cohort, youngest first."""
    cells: dict[tuple[str, str, str], list[Money]] = {}
    for receivable in ledger.receivables():
        face = receivable.face_on(as_of)
        if face.is_zero or face.currency != currency:
            continue
        key = (
            age_bucket(receivable.days_past_due(as_of)),
            balance_tier(face.amount),
            _documentation(ledger, receivable),
        )
        cells.setdefault(key, []).append(face)
    order = ("0-90", "91-180", "181-365", "365+")
    return [
        AgingCell(*key, count=len(faces), balance=Money.of(sum(f.amount for f in faces), currency))
        for key, faces in sorted(
            cells.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 9, kv[0])
        )
    ]


def cohort_receivables(
    ledger: Ledger, as_of: date, cohort: tuple[str, str, str], currency: str
) -> list[tuple[Receivable, Money]]:
    """The drill-down: each open receivable of one cohort with its balance."""
    found = []
    for receivable in ledger.receivables():
        face = receivable.face_on(as_of)
        if face.is_zero or face.currency != currency:
            continue
        key = (
            age_bucket(receivable.days_past_due(as_of)),
            balance_tier(face.amount),
            _documentation(ledger, receivable),
        )
        if key == cohort:
            found.append((receivable, face))
    return sorted(found, key=lambda pair: (pair[0].customer_id, pair[0].number))


def valuation(app: Forwardflow, agreement_id: str, tenant: str, as_of: date) -> ValuationReport:
    """``forwardflow portfolio valuation --json``'s report."""

    def compute() -> ValuationReport:
        with app.unit_of_work() as uow:
            terms = uow.agreements.get(agreement_id)
            taken = uow.portfolios.unavailable(tenant)
        return value_receivables(ledger_of(app, tenant), terms, as_of, taken=taken)

    return cached(app, ("valuation", agreement_id, as_of), tenant, compute)


@dataclass(frozen=True, slots=True)
class CutPreview:
    """What a cut would take, before anything is committed."""

    count: int
    face: Money
    price: Money


def cut_preview(app: Forwardflow, command: CutPortfolio) -> CutPreview:
    """The cut ``command`` would make now, computed by the cut itself without saving."""

    def compute() -> CutPreview:
        ledger = ledger_of(app, command.tenant)
        with app.unit_of_work() as uow:
            portfolio = select_for_cut(uow, command, ledger)
        return CutPreview(
            len(portfolio.lines), portfolio.total_face_at_cutoff, portfolio.total_price_at_cutoff
        )

    key = (
        "cut",
        command.agreement_id,
        command.cutoff,
        command.only_advised,
        command.excluded_customers,
    )
    return cached(app, key, command.tenant, compute)


_TOTALS = (
    "face_at_cutoff",
    "adjustments",
    "final_face",
    "price",
    "owed_to_buyer",
    "sold",
    "removed",
    "in_portfolio",
    "loss_on_sale",
    "refunds",
    "net_proceeds",
    "loss_on_sale_to_date",
)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """A reconciliation and its totals, each summed once (the report sums on every read)."""

    report: ReconciliationReport
    totals: dict[str, Any]


def reconciled(app: Forwardflow, portfolio: Portfolio) -> Reconciled:
    """``forwardflow portfolio reconcile --json``'s report, with its totals."""

    def compute() -> Reconciled:
        report = ReconciliationReport.of(portfolio, ledger_of(app, portfolio.tenant))
        return Reconciled(report, {name: getattr(report, name) for name in _TOTALS})

    return cached(app, ("reconciliation", portfolio.id), portfolio.tenant, compute)


def reconciliation(app: Forwardflow, portfolio: Portfolio) -> ReconciliationReport:
    """``forwardflow portfolio reconcile --json``'s report."""
    return reconciled(app, portfolio).report


def putback_ledger(portfolio: Portfolio) -> PutbackLedger:
    """``forwardflow putback list --json``'s report."""
    return PutbackLedger.of(portfolio)


def statement(app: Forwardflow, portfolio_id: str, as_of: date) -> AmountsDueReport:
    """``forwardflow remittance statement --json``'s report."""
    portfolio = portfolio_of(app, portfolio_id)
    with app.unit_of_work() as uow:
        terms = uow.agreements.get(portfolio.agreement_id).remittance
    items = amounts_due(portfolio, ledger_of(app, portfolio.tenant), terms)
    return AmountsDueReport.of(portfolio, items, as_of)


def postings(app: Forwardflow, offset: int, limit: int) -> tuple[Sequence[Posting], int]:
    """Journal entries posted to the platforms (newest first), with their platform ids."""
    with app.engine.connect() as connection:
        c = platform_postings.c
        count = connection.execute(select(func.count()).select_from(platform_postings)).scalar()
        rows = connection.execute(
            select(platform_postings)
            .order_by(c.updated_at.desc(), c.entry_id)
            .offset(offset)
            .limit(limit)
        ).all()
    found = [
        Posting(
            r.platform,
            r.company_id,
            r.entry_id,
            r.portfolio_id,
            r.state,
            r.platform_id,
            r.problem,
            r.attempts,
            dict(r.entry),
        )
        for r in rows
    ]
    return found, int(count or 0)


def money_total(values: Sequence[Money], currency: str) -> Money:
    """Σ ``values`` (zero when empty)."""
    return Money.of(sum((v.amount for v in values), Decimal(0)), currency)
