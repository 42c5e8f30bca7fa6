"""``forwardflow demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from forwardflow.cli.context import console, err_console
from forwardflow.cli.render import broker_table, store_table
from forwardflow.demo import SUMMARY, DemoError, run_demo

__all__ = ["demo"]


def demo(
    workdir: Annotated[
        Path,
        typer.Option("--workdir", help="Where the demo keeps its data (cleared each run)."),
    ] = Path("demo-run"),
) -> None:
    """Run the main job end to end on embedded defaults (SQLite, embedded NATS)."""
    with console.status("running the demo…") as spinner:

        def step(message: str) -> None:
            console.print(f"[green]✓[/] {message}")
            spinner.update(message)

        try:
            result = asyncio.run(run_demo(workdir, step))
        except DemoError as error:
            err_console.print(f"[bold red]demo failed:[/] {error}")
            raise typer.Exit(code=1) from None
    if result.store:
        console.print(store_table(result.store))
    if result.broker:
        console.print(broker_table(result.broker))
    console.print(f"summary: [bold]{result.workdir / SUMMARY}[/]")
    if not result.broker_pid_stopped:
        raise typer.Exit(code=1)
