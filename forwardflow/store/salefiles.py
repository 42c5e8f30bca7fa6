"""Sale files in the database: written once in the close's commit, streamed to deliver."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select

from debtsale.errors import RuleViolation
from debtsale.money import Money
from debtsale.salefile import (
    Parties,
    SaleFileChunk,
    SaleFileSummary,
    SaleFileTotals,
    SoldRow,
    in_chunks,
)
from forwardflow.store.driver import driver_statement
from forwardflow.store.tables import sale_file_chunks, sale_files

__all__ = ["SqlSaleFileStore"]

_FETCH = 8  # chunks per fetch: about 1.3 MB of CSV


def _summary_data(summary: SaleFileSummary) -> dict[str, Any]:
    totals = summary.totals
    return {
        "cutoff": summary.cutoff.isoformat(),
        "closing": summary.closing.isoformat(),
        "layout_version": summary.layout_version,
        "header": list(summary.header),
        "records": totals.records,
        "face": str(totals.face.amount),
        "price": str(totals.price.amount),
        "currency": totals.face.currency,
        "parties": None if summary.parties is None else asdict(summary.parties),
        "schema": summary.schema,
        "granularity": summary.granularity,
        "receivables": summary.receivables,
        "documents": summary.documents,
    }


def _summary_of(portfolio_id: str, agreement_id: str, tenant: str, data: Any) -> SaleFileSummary:
    currency = data["currency"]
    return SaleFileSummary(
        portfolio_id=portfolio_id,
        agreement_id=agreement_id,
        tenant=tenant,
        cutoff=date.fromisoformat(data["cutoff"]),
        closing=date.fromisoformat(data["closing"]),
        layout_version=data["layout_version"],
        header=tuple(data["header"]),
        totals=SaleFileTotals(
            data["records"],
            Money(Decimal(data["face"]), currency),
            Money(Decimal(data["price"]), currency),
        ),
        # files recorded before layout v2 (store revision 0010 and older) lack these
        parties=Parties(**data["parties"]) if data.get("parties") else None,
        schema=data.get("schema") or {},
        granularity=data.get("granularity", "invoice"),
        receivables=data.get("receivables"),
        documents=bool(data.get("documents", False)),
    )


def _insert_chunk(dialect_name: str) -> Any:
    return insert(sale_file_chunks).values(
        portfolio_id=bindparam("portfolio_id"),
        position=bindparam("position"),
        rows=bindparam("rows"),
        face_minor=bindparam("face_minor"),
        price_minor=bindparam("price_minor"),
        data=bindparam("data"),
    )


def _chunks_in_order(dialect_name: str) -> Any:
    columns = sale_file_chunks.c
    return (
        select(columns.data, columns.rows, columns.face_minor, columns.price_minor)
        .where(columns.portfolio_id == bindparam("portfolio_id"))
        .order_by(columns.position)
    )


class SqlSaleFileStore:
    """Each closed sale's file: a summary and the rows in chunks, in file order."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(self, summary: SaleFileSummary, rows: Iterable[SoldRow]) -> None:
        """Keep a sale's summary and rows; a portfolio's file is recorded once."""
        if self.summary(summary.portfolio_id) is not None:
            raise RuleViolation(
                "salefile.unique", f"portfolio {summary.portfolio_id} has a sale file already"
            )
        self._connection.execute(
            insert(sale_files).values(
                portfolio_id=summary.portfolio_id,
                agreement_id=summary.agreement_id,
                tenant=summary.tenant,
                summary=_summary_data(summary),
            )
        )
        statement = driver_statement("sale_file_chunks.insert", self._connection, _insert_chunk)
        for position, chunk in enumerate(in_chunks(rows)):
            statement.first(
                self._connection,
                {"portfolio_id": summary.portfolio_id, "position": position, **chunk._asdict()},
            )

    def summary(self, portfolio_id: str) -> SaleFileSummary | None:
        """The recorded summary, or None."""
        row = self._connection.execute(
            select(sale_files).where(sale_files.c.portfolio_id == portfolio_id)
        ).first()
        if row is None:
            return None
        return _summary_of(row.portfolio_id, row.agreement_id, row.tenant, row.summary)

    def counted(self, portfolio_id: str) -> tuple[int, int, int]:
        """Rows held, and their face and price sums in minor units (what the file will add to)."""
        columns = sale_file_chunks.c
        row = self._connection.execute(
            select(
                func.coalesce(func.sum(columns.rows), 0),
                func.coalesce(func.sum(columns.face_minor), 0),
                func.coalesce(func.sum(columns.price_minor), 0),
            ).where(columns.portfolio_id == portfolio_id)
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def chunks(self, portfolio_id: str) -> Iterator[SaleFileChunk]:
        """The file's chunks in order, a few at a time (constant memory)."""
        statement = driver_statement(
            "sale_file_chunks.in_order", self._connection, _chunks_in_order
        )
        params = {"portfolio_id": portfolio_id}
        for batch in statement.batches(self._connection, params, _FETCH):
            yield from map(SaleFileChunk._make, batch)
