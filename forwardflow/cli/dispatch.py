"""Running a command from the CLI (in-process, or through the service) and shared CLI helpers.

In-process is the default (the CLI shares the service's database). With ``--via-service``
the command is published to the COMMANDS stream and the CLI waits for the running
service's answer; either way the same registered handler applies it exactly once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from debtsale.commands import Command
from debtsale.errors import DomainError
from debtsale.portfolio import Portfolio
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.commands import CommandTimeoutError, send_command
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.topology import Topology
from forwardflow.cli.context import console, err_console, state
from handlers.outcome import Outcome
from handlers.registry import handle_command

__all__ = [
    "JsonFlag",
    "TimeoutOption",
    "ViaServiceFlag",
    "execute",
    "portfolio_of",
    "print_json",
    "query",
]

T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ViaServiceFlag = Annotated[
    bool,
    typer.Option(
        "--via-service",
        help="Publish the command to the running service and wait for its answer "
        "(default: apply it in this process).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the service's answer.")
]


def _refused(message: str) -> typer.Exit:
    err_console.print(f"[bold red]refused:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=1)


def query(ctx: typer.Context, work: Callable[[Forwardflow], T]) -> T:
    """Run ``work`` with the composed app; a broken rule ends the command cleanly."""
    app = state(ctx).app()
    try:
        return work(app)
    except DomainError as error:
        raise _refused(str(error)) from None
    finally:
        app.close()


def execute(
    ctx: typer.Context, command: Command, *, via_service: bool = False, timeout: float = 30.0
) -> Outcome:
    """Apply ``command`` once; a refusal prints the broken rule and exits with code 1."""
    if not via_service:
        return query(ctx, lambda app: handle_command(app.unit_of_work(), command))
    settings = state(ctx).settings()
    topology = Topology(settings.broker.stream_prefix, settings.broker.partitions)

    async def send() -> Outcome:
        async with connect_broker(settings) as connection:
            answer = await send_command(connection.broker, topology, command, timeout)
        if answer.outcome in (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.STALE):
            return Outcome(answer.outcome)
        raise _refused(answer.error or answer.outcome)

    try:
        return asyncio.run(send())
    except CommandTimeoutError as error:
        err_console.print(f"[bold yellow]pending:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(code=3) from None
    except OSError as error:
        err_console.print(f"[bold red]broker unreachable:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(code=1) from None


def portfolio_of(app: Forwardflow, portfolio_id: str) -> Portfolio:
    """The stored portfolio; an unknown id is a clear refusal."""
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(portfolio_id)
    if portfolio is None:
        raise DomainError("portfolio.known", f"no portfolio {portfolio_id}")
    return portfolio


def print_json(data: Any) -> None:
    """Print ``data`` as highlighted JSON."""
    console.print_json(json.dumps(data))
