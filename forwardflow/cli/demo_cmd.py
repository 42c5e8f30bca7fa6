"""``forwardflow demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from debtsale.money import Money
from debtsale.reports import ReconciliationReport
from debtsale.valuation import ValuationReport
from forwardflow.cli.context import console, err_console
from forwardflow.cli.render import broker_table
from forwardflow.demo import DemoError, run_demo

__all__ = ["demo"]


_DOCUMENTATION = {
    "signed_contract": "contract",
    "communication_trail": "trail",
    "invoice_only": "invoice",
}


_MIN_WIDTH = {
    "age": 7,
    "balance": 10,
    "docs": 8,
    "count": 5,
    "face": 9,
    "offer": 7,
    "¢/$": 4,
    "internal": 8,
    "advice": 6,
}


def _dollars(amount: Money) -> str:
    return f"{amount.amount:,.0f}"


def _valuation_table(report: ValuationReport) -> Table:
    table = Table(
        title=f"valuation as of {report.as_of} under {report.agreement_id} "
        f"({report.currency}, whole units)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("age", "balance", "docs", "count", "face", "offer", "¢/$", "internal", "advice"):
        text = column in ("age", "balance", "docs", "advice")
        table.add_column(
            column,
            justify="left" if text else "right",
            no_wrap=True,
            min_width=_MIN_WIDTH.get(column, 0),
        )
    for row in report.cohorts:
        table.add_row(
            row.age_bucket,
            row.balance_tier,
            _DOCUMENTATION.get(row.documentation, row.documentation),
            f"{row.count:,}",
            _dollars(row.face),
            _dollars(row.offer),
            f"{row.offer_rate * 100:.1f}",
            _dollars(row.internal_recovery),
            row.recommendation.value,
        )
    table.add_row(
        "[bold]total",
        "",
        "",
        f"[bold]{report.count:,}",
        f"[bold]{_dollars(report.face)}",
        f"[bold]{_dollars(report.offer)}",
        "",
        _dollars(report.internal_recovery),
        "",
    )
    return table


def _reconciliation_table(report: ReconciliationReport, figures: dict[str, object]) -> Table:
    table = Table(
        title=f"reconciliation of {report.portfolio_id} "
        f"(cut-off {report.cutoff}, closing {report.closing})",
        show_header=False,
    )
    table.add_column(style="cyan")
    table.add_column(justify="right")
    rows = [
        ("receivables sold / removed", f"{report.sold:,} / {report.removed:,}"),
        ("face at cut-off", f"{report.face_at_cutoff.amount:,}"),
        ("adjustments", f"{report.adjustments.amount:,}"),
        ("final face", f"{report.final_face.amount:,}"),
        ("price", f"{report.price.amount:,}"),
        ("owed to buyer at close", f"{report.owed_to_buyer.amount:,}"),
        ("loss on sale", f"{Decimal(str(figures.get('loss_on_sale', 0))):,}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def demo(
    workdir: Annotated[
        Path,
        typer.Option("--workdir", help="Where the demo keeps its data (cleared each run)."),
    ] = Path("demo-run"),
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
            result = asyncio.run(run_demo(workdir, step, progress))
        except DemoError as error:
            err_console.print(f"[bold red]demo failed:[/] {error}")
            raise typer.Exit(code=1) from None
    if result.valuation:
        console.print(_valuation_table(result.valuation))
    if result.reconciliation:
        console.print(_reconciliation_table(result.reconciliation, result.figures))
    if result.broker:
        console.print(broker_table(result.broker))
    for name, path in result.files.items():
        console.print(f"{name}: [bold]{path}[/]")
    if not result.broker_pid_stopped:
        raise typer.Exit(code=1)
