"""The ``forwardflow`` command: one typer app with a sub-command per job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from emulators.cli import emulator_app
from forwardflow import __version__
from forwardflow.cli.asyncapi_cmd import asyncapi
from forwardflow.cli.config_cmd import config_app
from forwardflow.cli.context import CliState, connection_failure, console, err_console
from forwardflow.cli.db_cmd import db_app
from forwardflow.cli.deliver_cmd import buyer_app, deliver, deliveries
from forwardflow.cli.demo_cmd import demo
from forwardflow.cli.dlq_cmd import dlq_app
from forwardflow.cli.keys_cmd import keys_app
from forwardflow.cli.platform_cmd import platform_app
from forwardflow.cli.portfolio_cmd import agreement_app, portfolio_app
from forwardflow.cli.putback_cmd import putback_app
from forwardflow.cli.remittance_cmd import remittance_app
from forwardflow.cli.run_cmd import run
from forwardflow.cli.schedule_cmd import receivable_app, schedule
from forwardflow.cli.status_cmd import status
from forwardflow.cli.user_cmd import user_app
from forwardflow.platforms import PLATFORMS

__all__ = ["app", "main"]

app = typer.Typer(
    name="forwardflow",
    help="Run a firm's debt sales from the ledger's own events.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
app.add_typer(agreement_app, name="agreement")
app.add_typer(portfolio_app, name="portfolio")
app.add_typer(receivable_app, name="receivable")
app.add_typer(putback_app, name="putback")
app.add_typer(remittance_app, name="remittance")
app.add_typer(buyer_app, name="buyer")
for _platform in PLATFORMS:  # `forwardflow <platform> …`, one group per registered platform
    app.add_typer(platform_app(_platform), name=_platform.name)
app.add_typer(keys_app, name="keys")
app.add_typer(emulator_app, name="emulator")
app.add_typer(user_app, name="user")
app.command("status")(status)
app.command("run")(run)
app.command("schedule")(schedule)
app.command("deliver")(deliver)
app.command("deliveries")(deliveries)
app.command("asyncapi")(asyncapi)
app.command("demo")(demo)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Settings file (default ./forwardflow.toml, or $FORWARDFLOW_CONFIG).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Run a firm's debt sales from the ledger's own events."""
    ctx.obj = CliState(config_file=config)


@app.command("version")
def version() -> None:
    """Print forwardflow's version."""
    console.print(f"forwardflow {__version__}")


def main() -> None:
    """Console-script entry point: an unreachable database or broker is one line, rc 1.

    Everything forwardflow creates (store, keys, broker storage, outgoing files) is for
    its own user only.
    """
    os.umask(0o077)
    try:
        app()
    except Exception as error:
        if (line := connection_failure(error)) is None:
            raise
        err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False)
        raise SystemExit(1) from None
