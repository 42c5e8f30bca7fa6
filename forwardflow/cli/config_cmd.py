"""``forwardflow config``: inspect the effective settings."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from forwardflow.cli.context import console, state
from forwardflow.config_view import setting_rows

__all__ = ["config_app"]

config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)


@config_app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective settings and where each comes from; secrets are masked."""
    rows = setting_rows(state(ctx).settings())
    if as_json:
        console.print_json(
            json.dumps({r.name: {"value": r.value, "source": r.source} for r in rows})
        )
        return
    table = Table(title="forwardflow settings (env > forwardflow.toml > defaults)")
    table.add_column("setting", style="cyan")
    table.add_column("value", overflow="fold")
    table.add_column("source", style="dim")
    for row in rows:
        table.add_row(row.name, row.value, row.source)
    console.print(table)
