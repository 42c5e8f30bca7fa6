"""``forwardflow status``: is the store migrated and the broker reachable?"""

from __future__ import annotations

import asyncio

import typer
from rich.markup import escape

from forwardflow.broker.embedded import EmbeddedNatsError
from forwardflow.broker.runtime import connect_broker
from forwardflow.cli.context import console, err_console, state
from forwardflow.cli.render import broker_table, store_table
from forwardflow.status import broker_status, store_status

__all__ = ["status"]


def status(ctx: typer.Context) -> None:
    """Show the state store's schema and the broker's streams (never starts a broker)."""
    app = state(ctx).app()
    try:
        store = store_status(app)
    finally:
        app.close()
    console.print(store_table(store))

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
    if not store.up_to_date:
        raise typer.Exit(code=1)
