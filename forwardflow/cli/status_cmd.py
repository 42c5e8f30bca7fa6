"""``forwardflow status``: is the store migrated, the broker reachable, and is every journal
entry in the company's books?"""

from __future__ import annotations

import asyncio

import typer
from rich.markup import escape

from forwardflow.broker.embedded import EmbeddedNatsError
from forwardflow.broker.runtime import connect_broker
from forwardflow.cli.context import console, err_console, state
from forwardflow.cli.render import broker_table, store_table
from forwardflow.postings import posting_problems
from forwardflow.status import broker_status, store_status

__all__ = ["status"]


def status(ctx: typer.Context) -> None:
    """Show the state store's schema, journal entries not in the books, the broker's streams.

    It never starts a broker: it joins the one running, or says none is.

    Exits 1 when the store needs an upgrade or a journal entry could not be posted (or
    applied to its invoices): re-authorise the company (``forwardflow <platform> connect``)
    and it is posted again.
    """
    app = state(ctx).app()
    try:
        store = store_status(app)
        problems = posting_problems(app) if store.up_to_date else []
    finally:
        app.close()
    console.print(store_table(store))
    for problem in problems:
        err_console.print(f"[bold red]attention:[/] {escape(problem)}", highlight=False)

    async def probe() -> None:
        async with connect_broker(app.settings, join_only=True) as connection:
            console.print(broker_table(await broker_status(connection)))

    try:
        asyncio.run(probe())
    except EmbeddedNatsError as error:
        err_console.print(f"[bold yellow]broker not running:[/] {escape(str(error))}")
        raise typer.Exit(code=1) from None
    except OSError as error:
        err_console.print(f"[bold red]broker unreachable:[/] {escape(str(error))}")
        raise typer.Exit(code=1) from None
    if not store.up_to_date or problems:
        raise typer.Exit(code=1)
