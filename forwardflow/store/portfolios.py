"""Agreements and portfolios in the database, as the domain's documents, safe with many writers.

Two rules hold whatever the isolation level or the number of processes, because the
database enforces them, not a read followed by a write:

- a receivable is held by at most one portfolio: ``receivable_claims`` is keyed by
  tenant and receivable, written when a portfolio takes a receivable and released when
  it lets it go (removed, put back, replaced);
- a portfolio is saved only over the version it was read at
  (``UPDATE … WHERE version = :seen``), so two writers never silently undo each other.

Either conflict raises ``ConflictError``; the handlers run the whole unit again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from debtsale.agreement import Agreement
from debtsale.codec import decode_portfolio, encode_portfolio
from debtsale.errors import RuleViolation
from debtsale.portfolio import Portfolio, PortfolioStatus
from forwardflow.store.driver import driver_statement
from forwardflow.store.tables import agreements, portfolio_members, portfolios, receivable_claims
from handlers.ports import ConflictError

__all__ = ["SqlAgreementStore", "SqlPortfolioStore"]


_IN_CHUNK = 500  # ids per IN (…) list: well under every driver's parameter limit


def _dialect(connection: Connection) -> Any:
    return postgresql if connection.dialect.name == "postgresql" else sqlite


def _any_portfolio(dialect_name: str) -> Any:
    return select(portfolios.c.id).where(portfolios.c.tenant == bindparam("tenant"))
    # no LIMIT: it would compile to a bound parameter; first() reads one row anyway


class SqlAgreementStore:
    """Sale agreements, kept as their TOML source and validated on the way in and out."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, document: str) -> Agreement:
        """Validate and store an agreement; an id already held is refused (by the key)."""
        agreement = Agreement.from_toml(document)
        inserted = self._connection.execute(
            _dialect(self._connection)
            .insert(agreements)
            .values(id=agreement.id, document=document)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(agreements.c.id)
        ).first()
        if inserted is None:
            raise RuleViolation("agreement.unique", f"agreement {agreement.id} already exists")
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
    """Portfolios as JSON documents with a version, their members and their claims."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        # what each portfolio held and had lines for when read: a save writes the difference
        self._read: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    # ------------------------------------------------------------------ reading
    def _decoded(self, row: Any) -> Portfolio:
        portfolio = decode_portfolio(row.document, row.version)
        self._read[portfolio.id] = (portfolio.held(), frozenset(portfolio.lines))
        return portfolio

    def _select(self) -> Any:
        return select(portfolios.c.document, portfolios.c.version)

    def get(self, portfolio_id: str) -> Portfolio | None:
        """The portfolio at the version read, or None."""
        row = self._connection.execute(
            self._select().where(portfolios.c.id == portfolio_id)
        ).first()
        return self._decoded(row) if row else None

    def unavailable(self, tenant: str) -> set[str]:
        """Receivables a new sale may not take: claimed by a live or sold portfolio."""
        rows = self._connection.execute(
            select(receivable_claims.c.receivable_id).where(receivable_claims.c.tenant == tenant)
        )
        return {row.receivable_id for row in rows}

    def has_portfolios(self, tenant: str) -> bool:
        """True when the tenant has any portfolio (one indexed probe, no statement built)."""
        probe = driver_statement("portfolios.any", self._connection, _any_portfolio)
        return probe.first(self._connection, {"tenant": tenant}) is not None

    def holding(self, tenant: str, receivable_ids: Iterable[str]) -> list[str]:
        """Ids of the portfolios with a line for any of the receivables, in id order."""
        wanted = sorted(set(receivable_ids))
        if not wanted:
            return []
        rows = self._connection.execute(
            select(portfolio_members.c.portfolio_id)
            .where(
                portfolio_members.c.tenant == tenant,
                portfolio_members.c.receivable_id.in_(wanted),
            )
            .distinct()
        )
        return sorted(row.portfolio_id for row in rows)

    # ------------------------------------------------------------------ writing
    def add(self, portfolio: Portfolio) -> None:
        """Store a new portfolio at version 1 and claim its receivables.

        An id already held is refused; a receivable another portfolio claims (a concurrent
        cut) raises ConflictError, and the whole cut runs again on fresh reads.
        """
        inserted = self._connection.execute(
            _dialect(self._connection)
            .insert(portfolios)
            .values(
                id=portfolio.id,
                tenant=portfolio.tenant,
                agreement_id=portfolio.agreement_id,
                status=portfolio.status.value,
                document=encode_portfolio(portfolio),
                version=1,
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(portfolios.c.id)
        ).first()
        if inserted is None:
            raise RuleViolation("portfolio.unique", f"portfolio {portfolio.id} already exists")
        portfolio.version = 1
        self._write_members(portfolio, frozenset(portfolio.lines))
        self._claim(portfolio, portfolio.held())
        self._read[portfolio.id] = (portfolio.held(), frozenset(portfolio.lines))

    def save(self, portfolio: Portfolio) -> None:
        """Store a changed portfolio over the version it was read at; claims follow its lines."""
        held_then, lines_then = self._read.get(portfolio.id) or self._stored_sets(portfolio.id)
        self._bump(
            portfolio,
            status=portfolio.status.value,
            document=encode_portfolio(portfolio),
            updated_at=func.now(),
        )
        held_now, lines_now = portfolio.held(), frozenset(portfolio.lines)
        self._write_members(portfolio, lines_now - lines_then)
        self._release(portfolio, held_then - held_now)
        self._claim(portfolio, held_now - held_then)
        self._read[portfolio.id] = (held_now, lines_now)

    def _stored_sets(self, portfolio_id: str) -> tuple[frozenset[str], frozenset[str]]:
        """What the store holds for a portfolio read elsewhere: its claims and its members."""
        claims = self._connection.execute(
            select(receivable_claims.c.receivable_id).where(
                receivable_claims.c.portfolio_id == portfolio_id
            )
        )
        members = self._connection.execute(
            select(portfolio_members.c.receivable_id).where(
                portfolio_members.c.portfolio_id == portfolio_id
            )
        )
        return frozenset(claims.scalars()), frozenset(members.scalars())

    def touch(self, portfolio: Portfolio) -> None:
        """Move the version on, nothing else: a writer that read the old version conflicts."""
        self._bump(portfolio)

    def bump(self, portfolio_ids: Iterable[str]) -> None:
        """Move the versions on, unread: whoever read one before saves into a conflict."""
        for portfolio_id in sorted(set(portfolio_ids)):  # one order: no deadlock
            self._connection.execute(
                update(portfolios)
                .where(portfolios.c.id == portfolio_id)
                .values(version=portfolios.c.version + 1)
            )

    def live(self, portfolio_ids: Iterable[str]) -> list[str]:
        """Those of the ids that are cut and not yet closed."""
        wanted = sorted(set(portfolio_ids))
        if not wanted:
            return []
        rows = self._connection.execute(
            select(portfolios.c.id).where(
                portfolios.c.id.in_(wanted), portfolios.c.status == PortfolioStatus.CUT.value
            )
        )
        return sorted(rows.scalars())

    def _bump(self, portfolio: Portfolio, **values: Any) -> None:
        if portfolio.version < 1:
            raise RuntimeError(f"portfolio {portfolio.id} was not read from this store")
        changed = self._connection.execute(
            update(portfolios)
            .where(portfolios.c.id == portfolio.id, portfolios.c.version == portfolio.version)
            .values(version=portfolios.c.version + 1, **values)
        )
        if changed.rowcount != 1:
            raise ConflictError(
                f"portfolio {portfolio.id} changed since it was read at version {portfolio.version}"
            )
        portfolio.version += 1

    def _write_members(self, portfolio: Portfolio, receivable_ids: frozenset[str]) -> None:
        if receivable_ids:
            self._connection.execute(
                _dialect(self._connection)
                .insert(portfolio_members)
                .on_conflict_do_nothing(index_elements=["portfolio_id", "receivable_id"]),
                [
                    {"portfolio_id": portfolio.id, "receivable_id": rid, "tenant": portfolio.tenant}
                    for rid in sorted(receivable_ids)
                ],
            )

    def _claim(self, portfolio: Portfolio, receivable_ids: frozenset[str]) -> None:
        """Claim receivables for the portfolio; any claimed elsewhere is a conflict.

        ``ON CONFLICT DO NOTHING`` waits for a concurrent transaction that claimed the same
        key and then skips it, so what is returned is exactly what this portfolio got.
        """
        if not receivable_ids:
            return
        rows = [
            {"tenant": portfolio.tenant, "receivable_id": rid, "portfolio_id": portfolio.id}
            for rid in sorted(receivable_ids)
        ]
        got = self._connection.execute(
            _dialect(self._connection)
            .insert(receivable_claims)
            .on_conflict_do_nothing(index_elements=["tenant", "receivable_id"])
            .returning(receivable_claims.c.receivable_id),
            rows,
        ).all()
        if len(got) != len(rows):
            missed = sorted(receivable_ids - {row.receivable_id for row in got})
            shown = ", ".join(missed[:5]) + (" …" if len(missed) > 5 else "")
            raise ConflictError(
                f"{len(missed)} receivable(s) of portfolio {portfolio.id} are held by another "
                f"portfolio: {shown}"
            )

    def _release(self, portfolio: Portfolio, receivable_ids: frozenset[str]) -> None:
        ordered = sorted(receivable_ids)
        for start in range(0, len(ordered), _IN_CHUNK):
            self._connection.execute(
                delete(receivable_claims).where(
                    receivable_claims.c.tenant == portfolio.tenant,
                    receivable_claims.c.portfolio_id == portfolio.id,
                    receivable_claims.c.receivable_id.in_(ordered[start : start + _IN_CHUNK]),
                )
            )

    # last: in the class body below it, ``list`` would mean this method
    def list(self, tenant: str | None = None) -> list[Portfolio]:
        """Every portfolio (of one tenant), by id."""
        statement = self._select().order_by(portfolios.c.id)
        if tenant is not None:
            statement = statement.where(portfolios.c.tenant == tenant)
        return [self._decoded(row) for row in self._connection.execute(statement)]
