"""``forwardflow demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from demo.story import DemoError, run_demo
from forwardflow.cli.context import console, err_console
from forwardflow.cli.demo_serve import serve_demo
from forwardflow.cli.render import (
    broker_table,
    completeness_table,
    reconciliation_table,
    valuation_table,
)
from forwardflow.platforms import PLATFORMS

__all__ = ["demo"]


def demo(
    workdir: Annotated[
        Path,
        typer.Option("--workdir", help="Where the demo keeps its data (cleared each run)."),
    ] = Path("demo-run"),
    platform: Annotated[
        str,
        typer.Option(
            "--platform",
            help="Whose emulator holds the firm's books: a registered platform's name "
            "(the first in the registry by default).",
        ),
    ] = PLATFORMS[0].name,
    keep_serving: Annotated[
        bool,
        typer.Option("--serve", help="Then keep the service and console running (Ctrl-C stops)."),
    ] = False,
    port: Annotated[int, typer.Option("--port", help="The console's port with --serve.")] = 8080,
) -> None:
    """Run the main job end to end on embedded defaults (SQLite, embedded NATS)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bars.add_task(label, total=total)
            bars.update(tasks[label], completed=done)

        def step(message: str) -> None:
            console.print(f"[green]✓[/] {message}")

        try:
            result = asyncio.run(run_demo(workdir, step, progress, platform))
        except DemoError as error:
            err_console.print(f"[bold red]demo failed:[/] {escape(str(error))}")
            raise typer.Exit(code=1) from None
    if result.valuation:
        console.print(valuation_table(result.valuation))
        console.print(completeness_table(result.valuation))
    if result.reconciliation:
        console.print(reconciliation_table(result.reconciliation))
    if result.broker:
        console.print(broker_table(result.broker))
    for name, path in result.files.items():
        console.print(f"{name}: [bold]{path}[/]")
    if not result.broker_pid_stopped:
        raise typer.Exit(code=1)
    if keep_serving:
        serve_demo(workdir, port)
