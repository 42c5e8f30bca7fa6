"""Agreements and portfolios in the database, as the domain's documents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from debtsale.agreement import Agreement
from debtsale.codec import decode_portfolio, encode_portfolio
from debtsale.errors import RuleViolation
from debtsale.lifecycle import ReceivableState
from debtsale.portfolio import Portfolio, PortfolioStatus
from forwardflow.store.driver import driver_statement
from forwardflow.store.tables import agreements, portfolios

__all__ = ["SqlAgreementStore", "SqlPortfolioStore"]

# In a live sale, or the buyer's: never offered again. Removed, put-back and replaced
# receivables are the seller's once more.
_UNAVAILABLE = frozenset(
    {
        ReceivableState.IN_PORTFOLIO,
        ReceivableState.SOLD,
        ReceivableState.PUTBACK_REQUESTED,
        ReceivableState.PUTBACK_REJECTED,
    }
)


def _any_closed(dialect_name: str) -> Any:
    return select(portfolios.c.id).where(
        portfolios.c.tenant == bindparam("tenant"),
        portfolios.c.status == bindparam("status"),
    )  # no LIMIT: it would compile to a bound parameter; first() reads one row anyway


class SqlAgreementStore:
    """Sale agreements, kept as their TOML source and validated on the way in and out."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, document: str) -> Agreement:
        """Validate and store an agreement; an id already held is refused."""
        agreement = Agreement.from_toml(document)
        if self._connection.execute(
            select(agreements.c.id).where(agreements.c.id == agreement.id)
        ).first():
            raise RuleViolation("agreement.unique", f"agreement {agreement.id} already exists")
        self._connection.execute(insert(agreements).values(id=agreement.id, document=document))
        return agreement

    def get(self, agreement_id: str) -> Agreement:
        """The agreement with this id; an unknown id is a rule violation."""
        row = self._connection.execute(
            select(agreements.c.document).where(agreements.c.id == agreement_id)
        ).first()
        if row is None:
            raise RuleViolation("agreement.known", f"no agreement {agreement_id}")
        return Agreement.from_toml(row.document)

    def list(self) -> list[Agreement]:
        """Every agreement, by id."""
        rows = self._connection.execute(select(agreements.c.document).order_by(agreements.c.id))
        return [Agreement.from_toml(row.document) for row in rows]


class SqlPortfolioStore:
    """Portfolios as JSON documents, with the few columns queries need."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, portfolio_id: str) -> Portfolio | None:
        """The portfolio, or None."""
        row = self._connection.execute(
            select(portfolios.c.document).where(portfolios.c.id == portfolio_id)
        ).first()
        return decode_portfolio(row.document) if row else None

    def add(self, portfolio: Portfolio) -> None:
        """Store a new portfolio; an id already held is refused."""
        if self.get(portfolio.id) is not None:
            raise RuleViolation("portfolio.unique", f"portfolio {portfolio.id} already exists")
        self._connection.execute(
            insert(portfolios).values(
                id=portfolio.id,
                tenant=portfolio.tenant,
                agreement_id=portfolio.agreement_id,
                status=portfolio.status.value,
                document=encode_portfolio(portfolio),
            )
        )

    def save(self, portfolio: Portfolio) -> None:
        """Store a changed portfolio."""
        self._connection.execute(
            update(portfolios)
            .where(portfolios.c.id == portfolio.id)
            .values(
                status=portfolio.status.value,
                document=encode_portfolio(portfolio),
                updated_at=func.now(),
            )
        )

    def closed(self, tenant: str) -> list[Portfolio]:
        """The tenant's sold portfolios (one indexed lookup; usually none)."""
        probe = driver_statement("portfolios.any_closed", self._connection, _any_closed)
        closed = {"tenant": tenant, "status": PortfolioStatus.CLOSED.value}
        if probe.first(self._connection, closed) is None:
            return []  # the common case, on every payment: no SQLAlchemy statement built
        statement = (
            select(portfolios.c.document)
            .where(
                portfolios.c.tenant == tenant,
                portfolios.c.status == PortfolioStatus.CLOSED.value,
            )
            .order_by(portfolios.c.id)
        )
        return [decode_portfolio(row.document) for row in self._connection.execute(statement)]

    def list(self, tenant: str | None = None) -> list[Portfolio]:
        """Every portfolio (of one tenant), by id."""
        statement = select(portfolios.c.document).order_by(portfolios.c.id)
        if tenant is not None:
            statement = statement.where(portfolios.c.tenant == tenant)
        return [decode_portfolio(row.document) for row in self._connection.execute(statement)]

    def unavailable(self, tenant: str) -> set[str]:
        """Receivables a new sale may not take: in a live portfolio, or sold to a buyer."""
        taken: set[str] = set()
        for portfolio in self.list(tenant):
            taken |= {rid for rid, line in portfolio.lines.items() if line.state in _UNAVAILABLE}
        return taken
