"""Exclusion flags per receivable in the database (bankruptcy, dispute, deceased …)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Connection, select, update

from debtsale.lifecycle import ExclusionReason
from forwardflow.store.tables import receivable_flags

__all__ = ["SqlFlagStore"]


class SqlFlagStore:
    """The facts that exclude a receivable from sale, with the date they arose."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def flag(self, tenant: str, receivable_id: str, reason: ExclusionReason, since: date) -> None:
        """Record the fact; recording it again keeps the earliest date."""
        key = (
            (receivable_flags.c.tenant == tenant)
            & (receivable_flags.c.receivable_id == receivable_id)
            & (receivable_flags.c.reason == reason.value)
        )
        held = self._connection.execute(select(receivable_flags.c.since).where(key)).first()
        if held is None:
            self._connection.execute(
                receivable_flags.insert().values(
                    tenant=tenant, receivable_id=receivable_id, reason=reason.value, since=since
                )
            )
        elif since < held.since:
            self._connection.execute(update(receivable_flags).where(key).values(since=since))

    def on(self, tenant: str, day: date) -> Mapping[str, set[ExclusionReason]]:
        """The facts in force on ``day``, by receivable."""
        rows = self._connection.execute(
            select(receivable_flags.c.receivable_id, receivable_flags.c.reason).where(
                receivable_flags.c.tenant == tenant, receivable_flags.c.since <= day
            )
        )
        found: dict[str, set[ExclusionReason]] = {}
        for row in rows:
            found.setdefault(row.receivable_id, set()).add(ExclusionReason(row.reason))
        return found

    def dated(self, tenant: str) -> Mapping[str, Mapping[ExclusionReason, date]]:
        """Every fact of the tenant with the date it arose, by receivable."""
        rows = self._connection.execute(
            select(
                receivable_flags.c.receivable_id,
                receivable_flags.c.reason,
                receivable_flags.c.since,
            ).where(receivable_flags.c.tenant == tenant)
        )
        found: dict[str, dict[ExclusionReason, date]] = {}
        for row in rows:
            found.setdefault(row.receivable_id, {})[ExclusionReason(row.reason)] = row.since
        return found
