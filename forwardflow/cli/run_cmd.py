"""``forwardflow run``: the service (subscribers and outbox relay) until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.markup import escape

from forwardflow.cli.context import err_console, state
from forwardflow.service import Role, SchemaOutdatedError, serve

__all__ = ["run"]


def run(
    ctx: typer.Context,
    role: Annotated[
        Role,
        typer.Option(
            "--role", help="Run one part only (handlers, relay, scheduler, delivery, http)."
        ),
    ] = Role.ALL,
) -> None:
    """Run the service: subscribers, outbox relay, scheduler and delivery, until SIGTERM."""
    app = state(ctx).app()
    logging.basicConfig(
        level=app.settings.log.level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        asyncio.run(serve(app, role))
    except SchemaOutdatedError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(code=2) from None
    finally:
        app.close()
