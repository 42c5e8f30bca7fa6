"""What an operator asks first: how far behind each consumer is, when each platform company
last caught up and when its token expires, when each buyer last got a file and was polled.

``forwardflow status --json`` prints it; the tables of ``forwardflow status`` show it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.lag import ConsumerLag, consumer_lags
from forwardflow.broker.runtime import BrokerConnection
from forwardflow.companies import companies
from forwardflow.marks import marks
from forwardflow.readiness_checks import INBOX, catch_up_mark
from forwardflow.store.tables import deliveries

__all__ = ["buyers_status", "companies_status", "consumers_status"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def consumers_status(app: Forwardflow, connection: BrokerConnection) -> list[ConsumerLag]:
    """Every durable consumer: pending, ack-pending, redelivered, dead letters, oldest age."""
    jetstream = connection.broker.connection.jetstream()
    return await consumer_lags(jetstream, app.topology, ages=True)


def companies_status(app: Forwardflow) -> list[dict[str, Any]]:
    """Per platform company: the last successful catch-up, the last failure and token expiry."""
    held = {m.name: m for m in marks(app, "catch-up:")}
    found = []
    for company in companies(app):
        mark = held.get(catch_up_mark(company.platform, company.company_id))
        found.append(
            {
                "platform": company.platform,
                "company_id": company.company_id,
                "last_catch_up": _iso(mark.ok_at if mark else None),
                "last_catch_up_failure": _iso(mark.failed_at if mark else None),
                "catch_up_failing": bool(mark and mark.failing),
                "catch_up_problem": mark.problem if mark and mark.failing else None,
                "token_expires_at": _iso(company.refresh_expires_at),
                "access_token_expires_at": _iso(company.access_expires_at),
            }
        )
    return found


def buyers_status(app: Forwardflow) -> list[dict[str, Any]]:
    """Per buyer (agreement with a delivery): the last delivery and the last inbox poll."""
    polls = {m.name.removeprefix(INBOX): m for m in marks(app, INBOX)}
    tranches = {m.name.removeprefix("tranche:"): m for m in marks(app, "tranche:")}
    with app.unit_of_work() as uow:
        buyers = [a for a in uow.agreements.list() if a.delivery is not None]
        last = {
            row.agreement_id: row.at
            for row in uow.connection.execute(
                select(deliveries.c.agreement_id, func.max(deliveries.c.updated_at).label("at"))
                .where(deliveries.c.status == "delivered")
                .group_by(deliveries.c.agreement_id)
            )
        }
        failed = {
            row.agreement_id: int(row.n)
            for row in uow.connection.execute(
                select(deliveries.c.agreement_id, func.count().label("n"))
                .where(deliveries.c.status != "delivered")
                .group_by(deliveries.c.agreement_id)
            )
        }
    found = []
    for agreement in buyers:
        poll, tranche = polls.get(agreement.id), tranches.get(agreement.id)
        found.append(
            {
                "agreement_id": agreement.id,
                "buyer": agreement.buyer,
                "last_delivery": _iso(last.get(agreement.id)),
                "deliveries_not_delivered": failed.get(agreement.id, 0),
                "last_inbox_poll": _iso(poll.ok_at if poll else None),
                "last_inbox_poll_failure": _iso(poll.failed_at if poll else None),
                "inbox_poll_problem": poll.problem if poll and poll.failing else None,
                "empty_tranche": tranche.problem if tranche and tranche.failing else None,
            }
        )
    return found
