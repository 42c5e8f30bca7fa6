"""``forwardflow status``: is the store migrated, the broker reachable, every journal entry in
the company's books — and how far behind are consumers, platform catch-up and buyers?"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from forwardflow.broker.embedded import EmbeddedNatsError
from forwardflow.broker.lag import ConsumerLag
from forwardflow.broker.runtime import connect_broker
from forwardflow.cli.context import console, err_console, state
from forwardflow.cli.render import broker_table, store_table
from forwardflow.operations_status import buyers_status, companies_status, consumers_status
from forwardflow.postings import posting_problems
from forwardflow.status import BrokerStatus, broker_status, store_status

__all__ = ["status"]


def _consumers_table(lags: list[ConsumerLag]) -> Table:
    table = Table(title="consumers")
    for column in ("stream", "consumer", "pending", "ack pending", "redelivered", "dead", "oldest"):
        table.add_column(column, justify="left" if column in ("stream", "consumer") else "right")
    for lag in lags:
        age = lag.oldest_unacked_age_s
        table.add_row(
            lag.stream,
            lag.consumer,
            f"{lag.pending:,}",
            f"{lag.ack_pending:,}",
            f"{lag.redelivered:,}",
            f"{lag.dead_letters:,}",
            "" if age is None else f"{age:,.0f} s",
        )
    return table


def _rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in rows[0] if rows else ():
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    return table


def status(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print everything as one JSON document.")
    ] = False,
) -> None:
    """Show the state store's schema, journal entries not in the books, the broker's streams,
    each consumer's backlog, each platform company's catch-up and token, each buyer's last
    delivery and inbox poll.

    It never starts a broker: it joins the one running, or says none is.

    Exits 1 when the store needs an upgrade or a journal entry could not be posted (or
    applied to its invoices): re-authorise the company (``forwardflow <platform> connect``)
    and it is posted again.
    """
    app = state(ctx).app()
    try:
        store = store_status(app)
        problems = posting_problems(app) if store.up_to_date else []
        platform_rows = companies_status(app) if store.up_to_date else []
        buyer_rows = buyers_status(app) if store.up_to_date else []
    finally:
        app.close()
    broker: BrokerStatus | None = None
    lags: list[ConsumerLag] = []
    broker_error = ""

    async def probe() -> tuple[BrokerStatus, list[ConsumerLag]]:
        async with connect_broker(app.settings, join_only=True) as connection:
            return await broker_status(connection), await consumers_status(app, connection)

    try:
        broker, lags = asyncio.run(probe())
    except EmbeddedNatsError as error:
        broker_error = f"broker not running: {error}"
    except OSError as error:
        broker_error = f"broker unreachable: {error}"
    if as_json:
        document = {
            "store": {**asdict(store), "up_to_date": store.up_to_date},
            "attention": problems,
            "broker": asdict(broker) if broker else {"error": broker_error},
            "consumers": [lag.as_json() for lag in lags],
            "dead_letters": sum(lag.dead_letters for lag in lags),
            "platform_companies": platform_rows,
            "buyers": buyer_rows,
        }
        typer.echo(json.dumps(document, indent=2, default=str))
    else:
        _print_tables(store, problems, broker, lags, platform_rows, buyer_rows, broker_error)
    if broker is None or not store.up_to_date or problems:
        raise typer.Exit(code=1)


def _print_tables(
    store: Any,
    problems: list[str],
    broker: BrokerStatus | None,
    lags: list[ConsumerLag],
    platform_rows: list[dict[str, Any]],
    buyer_rows: list[dict[str, Any]],
    broker_error: str,
) -> None:
    console.print(store_table(store))
    for problem in problems:
        err_console.print(f"[bold red]attention:[/] {escape(problem)}", highlight=False)
    if broker is None:
        colour = "yellow" if broker_error.startswith("broker not running") else "red"
        name, _, why = broker_error.partition(": ")
        err_console.print(f"[bold {colour}]{name}:[/] {escape(why)}")
    else:
        console.print(broker_table(broker))
        if lags:
            console.print(_consumers_table(lags))
    if platform_rows:
        console.print(_rows_table("platform companies", platform_rows))
    if buyer_rows:
        console.print(_rows_table("buyers", buyer_rows))
