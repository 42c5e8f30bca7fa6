"""Delivery receipts in the database: the latest per portfolio, earlier runs kept inside."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from forwardflow.store.tables import deliveries

__all__ = ["SqlDeliveryStore"]


class SqlDeliveryStore:
    """What was delivered where, how many attempts it took, and when."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, portfolio_id: str) -> dict[str, Any] | None:
        """The latest receipt of a portfolio (with ``history`` of earlier runs), or None."""
        row = self._connection.execute(
            select(deliveries.c.receipt).where(deliveries.c.portfolio_id == portfolio_id)
        ).first()
        return dict(row.receipt) if row else None

    def record(self, agreement_id: str, receipt: dict[str, Any]) -> None:
        """Store a run's receipt; the previous one moves into its history."""
        held = self.get(receipt["portfolio_id"])
        if held is None:
            self._connection.execute(
                insert(deliveries).values(
                    portfolio_id=receipt["portfolio_id"],
                    agreement_id=agreement_id,
                    status=receipt["status"],
                    attempts=receipt["attempts"],
                    receipt={**receipt, "history": []},
                )
            )
            return
        history = [*held.pop("history", []), held]
        self._connection.execute(
            update(deliveries)
            .where(deliveries.c.portfolio_id == receipt["portfolio_id"])
            .values(
                status=receipt["status"],
                attempts=sum(r["attempts"] for r in history) + receipt["attempts"],
                receipt={
                    **receipt,
                    "attempts_total": sum(r["attempts"] for r in history) + receipt["attempts"],
                    "history": history,
                },
                updated_at=func.now(),
            )
        )

    def list(self) -> list[dict[str, Any]]:
        """Every portfolio's latest receipt, newest first."""
        rows = self._connection.execute(
            select(deliveries.c.receipt).order_by(deliveries.c.updated_at.desc())
        )
        return [dict(row.receipt) for row in rows]
