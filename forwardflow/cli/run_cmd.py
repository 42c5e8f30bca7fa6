"""``forwardflow run``: the service (subscribers and outbox relay) until SIGTERM."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape

from forwardflow.cli.context import err_console, state
from forwardflow.logs import configure_logging
from forwardflow.service import (
    Role,
    SampleSettingsError,
    SchemaOutdatedError,
    ServiceFailedError,
    serve,
)

__all__ = ["run"]


def run(
    ctx: typer.Context,
    role: Annotated[
        Role,
        typer.Option(
            "--role", help="Run one part only (handlers, relay, scheduler, delivery, http)."
        ),
    ] = Role.ALL,
    log_format: Annotated[
        str | None,
        typer.Option("--log-format", help="console or json (default: the log.format setting)."),
    ] = None,
) -> None:
    """Run the service: subscribers, outbox relay, scheduler and delivery, until SIGTERM."""
    app = state(ctx).app()
    if log_format not in (None, "console", "json"):
        raise typer.BadParameter("console or json", param_hint="--log-format")
    configure_logging(app.settings.log.level, log_format or app.settings.log.format)
    try:
        asyncio.run(serve(app, role))
    except (SchemaOutdatedError, SampleSettingsError) as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(code=2) from None
    except ServiceFailedError as error:
        err_console.print(f"[bold red]stopped:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(code=1) from None
    finally:
        app.close()
