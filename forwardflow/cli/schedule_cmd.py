"""``forwardflow schedule`` and ``forwardflow receivable flag``: tranches and exclusion facts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from debtsale.commands import Command, FlagReceivable
from debtsale.errors import DomainError
from debtsale.lifecycle import ExclusionReason
from forwardflow.bootstrap import Forwardflow
from forwardflow.cli.context import console
from forwardflow.cli.dispatch import (
    TimeoutOption,
    ViaServiceFlag,
    day_or_today,
    execute,
    query,
    receivable_of,
)
from handlers.outcome import Outcome
from handlers.schedule import plan_tranches, run_schedule

__all__ = ["receivable_app", "schedule"]

receivable_app = typer.Typer(help="Record facts about single receivables.", no_args_is_help=True)


def schedule(
    ctx: typer.Context,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="YYYY-MM-DD (default today)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, do not apply.")] = False,
) -> None:
    """Cut and close the forward-flow tranches due (the service does this every hour)."""
    day = day_or_today(as_of)

    def work(app: Forwardflow) -> list[tuple[Command, Outcome | DomainError | None]]:
        if dry_run:
            with app.unit_of_work() as uow:
                plan = plan_tranches(uow.agreements.list(), uow.portfolios.list(), day)
            return [(command, None) for command in plan]
        return list(run_schedule(app.unit_of_work, day))

    done = query(ctx, work)
    table = Table(title=f"forward-flow tranches due on {day}" + (" (dry run)" if dry_run else ""))
    for column in ("command", "portfolio", "date", "outcome"):
        table.add_column(column)
    for command, outcome in done:
        when = getattr(command, "cutoff", None) or getattr(command, "closing", "")
        table.add_row(
            type(command).__name__,
            getattr(command, "portfolio_id", ""),
            str(when),
            _shown(outcome),
        )
    console.print(table if done else f"no tranche due on {day}")


def _shown(outcome: Outcome | DomainError | None) -> str:
    if outcome is None:
        return "planned"
    if isinstance(outcome, DomainError):
        return f"refused [{outcome.rule}] {outcome}"
    return outcome.value


@receivable_app.command("flag")
def receivable_flag(
    ctx: typer.Context,
    receivable: Annotated[
        str, typer.Argument(metavar="RECEIVABLE", help="Invoice id or invoice number.")
    ],
    tenant: Annotated[str, typer.Option(help="The company (tenant).")],
    reason: Annotated[ExclusionReason, typer.Option(help="The fact that excludes it.")],
    since: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="When it arose (YYYY-MM-DD).")
    ],
    via_service: ViaServiceFlag = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Record an exclusion fact: never cut, and removed from a sale not yet closed.

    On a receivable already sold, a fact dated by the closing makes it a put-back
    candidate (``portfolio candidates``).
    """
    named = receivable
    receivable = query(ctx, lambda app: receivable_of(app, named, tenant=tenant))
    command = FlagReceivable(
        command_id=f"cli:flag:{tenant}:{receivable}:{reason.value}",
        tenant=tenant,
        receivable_id=receivable,
        reason=reason,
        since=since.date(),
    )
    outcome = execute(ctx, command, via_service=via_service, timeout=timeout)
    console.print(f"receivable [bold]{receivable}[/] flagged {reason.value} ({outcome})")
