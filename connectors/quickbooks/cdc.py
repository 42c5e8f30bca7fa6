"""Catch-up by change-data-capture: what webhooks missed, per company and entity.

For each entity a checkpoint says "everything changed before this instant was
published". A catch-up asks CDC for changes since the checkpoint (never further back
than the 30-day limit), publishes them, and only then moves the checkpoint — to the
time the call began, less a margin for clock skew — so a crash between fetch and
publish re-fetches and never skips.

CDC answers at most 1,000 objects and has no upper bound to page with; a full answer
means "more than this". The window is then read with queries on
``MetaData.LastUpdatedTime`` instead, halving it until each part fits (and paging
within a second when a single second holds more). Queries see live entities only;
deletions in such a burst are caught by the next CDC sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.platform import CatchUp, Checkpoints, PaymentLinks
from connectors.quickbooks.client import QuickBooksApi
from connectors.quickbooks.mapping import (
    credits_undone,
    customer_change,
    invoice_change,
    payment_change,
    payment_invoice_ids,
)
from debtsale.changes import LedgerChange, PaymentDeleted, PaymentVoided

__all__ = ["CDC_CAP", "ENTITIES", "CatchUp", "Checkpoints", "backfill", "catch_up"]

log = logging.getLogger("forwardflow.quickbooks.cdc")

CDC_CAP = 1000
ENTITIES = ("Customer", "Invoice", "Payment")
_LOOKBACK = timedelta(days=30) - timedelta(minutes=10)
_SKEW = timedelta(seconds=30)
_MAPPERS: dict[str, Callable[[str, dict[str, Any], datetime], LedgerChange | None]] = {
    "Customer": customer_change,
    "Invoice": invoice_change,
    "Payment": payment_change,
}


def _stamp(when: datetime, *, ceil: bool = False) -> str:
    """Whole seconds, as QuickBooks compares them; an upper bound rounds up, never losing
    the changes of the second it falls in (overlap is harmless: event ids deduplicate)."""
    if ceil and when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _query(entity: str, where: str | None, position: int, cap: int) -> str:
    if entity not in ENTITIES:
        raise ValueError(f"not an entity forwardflow reads: {entity}")
    # entity is one of ENTITIES and every condition is formatted here: nothing from outside
    condition = f" where {where}" if where else ""
    return f"select * from {entity}{condition} STARTPOSITION {position} MAXRESULTS {cap}"  # noqa: S608


def _pages(api: QuickBooksApi, entity: str, where: str | None, cap: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    position = 1
    while page := api.query(_query(entity, where, position, cap)):
        rows += page
        if len(page) < cap:
            break
        position += cap
    return rows


def _windowed(
    api: QuickBooksApi, entity: str, start: datetime, end: datetime, cap: int
) -> list[dict[str, Any]]:
    """Live entities updated in [start, end), halving the window while a part is full."""
    where = (
        f"MetaData.LastUpdatedTime >= '{_stamp(start)}' "
        f"and MetaData.LastUpdatedTime < '{_stamp(end, ceil=True)}'"
    )
    rows = api.query(_query(entity, where, 1, cap))
    if len(rows) < cap:
        return rows
    if end - start > timedelta(seconds=1):
        middle = start + (end - start) / 2
        return _windowed(api, entity, start, middle, cap) + _windowed(api, entity, middle, end, cap)
    return _pages(api, entity, where, cap)  # one second holds more than a page


def _publish_entity(
    realm: str,
    entity: str,
    rows: list[dict[str, Any]],
    began: datetime,
    links: PaymentLinks,
    publish: Callable[[list[LedgerChange]], None],
) -> None:
    """Publish what the rows mean (not forwardflow's own writes), then, for payments, keep
    their links; a payment voided or deleted also withdraws a credit it had applied."""
    mapped = [_MAPPERS[entity](realm, row, began) for row in rows]
    changes: list[LedgerChange] = []
    for row, change in zip(rows, mapped, strict=True):
        if change is None:
            continue
        changes.append(change)
        if isinstance(change, PaymentVoided | PaymentDeleted):
            linked = links.invoices(realm, str(row["Id"]))
            changes += credits_undone(realm, str(row["Id"]), linked, began)
    publish(changes)
    if entity == "Payment":
        for row, change in zip(rows, mapped, strict=True):
            undone = isinstance(change, PaymentVoided | PaymentDeleted)
            links.remember(realm, str(row["Id"]), set() if undone else payment_invoice_ids(row))


def catch_up(
    api: QuickBooksApi,
    checkpoints: Checkpoints,
    links: PaymentLinks,
    publish: Callable[[list[LedgerChange]], None],
    *,
    now: datetime | None = None,
    cap: int = CDC_CAP,
    sweep: timedelta | None = None,
) -> CatchUp:
    """Fetch every change since each entity's checkpoint, publish, then move checkpoints.

    A ``sweep`` reads at least that far back whatever the checkpoint says (the daily
    sweep Intuit advises); the checkpoint still only moves forward.
    """
    realm = api.realm_id
    report = CatchUp()
    for entity in ENTITIES:
        began = now or datetime.now(UTC)
        held = checkpoints.get(realm, entity) or began - _LOOKBACK
        since = max(min(held, began - sweep) if sweep else held, began - _LOOKBACK)
        rows = api.changes([entity], since).get(entity, [])
        if len(rows) >= cap:
            log.info("CDC answer at the cap entity=%s: reading by windows", entity)
            rows = _windowed(api, entity, since, began, cap)
            report.windowed.append(entity)
        _publish_entity(realm, entity, rows, began, links, publish)
        checkpoints.set(realm, entity, max(held, began - _SKEW))  # never backwards
        report.fetched[entity] = len(rows)
    return report


def backfill(
    api: QuickBooksApi,
    checkpoints: Checkpoints,
    links: PaymentLinks,
    publish: Callable[[list[LedgerChange]], None],
    progress: Callable[[int, str], None] | None = None,
    *,
    page: int = CDC_CAP,
    workers: int = 1,
) -> int:
    """First connection: every customer, the open invoices and the payments on them.

    Reads run ``workers`` at a time (pages by position, payments a hundred per query), so
    a backfill is bounded by the platform's limits, not by one call's latency; changes
    are published in the same order whatever the parallelism. Afterwards each entity's
    checkpoint is set to when the backfill began, so CDC carries on from there. Returns
    how many changes were published.
    """
    realm, began, published = api.realm_id, datetime.now(UTC), 0

    def send(entity: str, changes: list[LedgerChange]) -> None:
        nonlocal published
        publish(changes)
        published += len(changes)
        if progress:
            progress(len(changes), entity)

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="ff-backfill") as pool:
        for chunk in _chunks(_pages_at_once(pool, workers, api, "Customer", None, page), 200):
            send("Customer", [customer_change(realm, row, began) for row in chunk])
        invoices = _pages_at_once(pool, workers, api, "Invoice", "Balance > '0'", page)
        for chunk in _chunks(invoices, 200):
            send("Invoice", [invoice_change(realm, row, began) for row in chunk])
        payment_ids = sorted(
            {
                str(link["TxnId"])
                for row in invoices
                for link in row.get("LinkedTxn", [])
                if link.get("TxnType") == "Payment"
            }
        )

        def payments(chunk: list[str]) -> list[dict[str, Any]]:
            ids = ", ".join(f"'{int(pid)}'" for pid in chunk)  # ids are numeric in QuickBooks
            return api.query(_query("Payment", f"Id in ({ids})", 1, page))

        # one query per hundred (or per page, if smaller), not a read each
        for rows in pool.map(payments, _chunks(payment_ids, min(100, page))):
            mapped = (payment_change(realm, row, began) for row in rows)
            send("Payment", [change for change in mapped if change is not None])
            for row in rows:
                links.remember(realm, str(row["Id"]), payment_invoice_ids(row))
    for entity in ENTITIES:
        held = checkpoints.get(realm, entity)
        checkpoints.set(realm, entity, max(held, began - _SKEW) if held else began - _SKEW)
    return published


def _pages_at_once(
    pool: ThreadPoolExecutor,
    workers: int,
    api: QuickBooksApi,
    entity: str,
    where: str | None,
    cap: int,
) -> list[dict[str, Any]]:
    """Every page of a query, ``workers`` pages at a time, in order, until a short one."""
    rows: list[dict[str, Any]] = []
    position = 1
    while True:
        positions = [position + n * cap for n in range(max(1, workers))]
        for page in pool.map(lambda at: api.query(_query(entity, where, at, cap)), positions):
            rows += page
            if len(page) < cap:
                return rows
        position = positions[-1] + cap


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
