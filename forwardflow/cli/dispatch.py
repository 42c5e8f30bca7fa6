"""Running a command from the CLI (in-process, or through the service) and shared CLI helpers.

In-process is the default (the CLI shares the service's database). With ``--via-service``
the command is published to the COMMANDS stream and the CLI waits for the running
service's answer; either way the same registered handler applies it exactly once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from debtsale.commands import Command
from debtsale.errors import DomainError
from debtsale.money import Money
from debtsale.portfolio import Portfolio
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.commands import CommandTimeoutError, send_command
from forwardflow.broker.runtime import BrokerConnection, connect_broker
from forwardflow.broker.topology import Topology
from forwardflow.cli.context import console, err_console, state
from forwardflow.clock import today
from handlers.outcome import Outcome
from handlers.registry import handle_command

__all__ = [
    "JsonFlag",
    "TimeoutOption",
    "ViaServiceFlag",
    "day_or_today",
    "execute",
    "money_option",
    "portfolio_of",
    "print_json",
    "query",
    "receivable_of",
    "with_broker",
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
    topology = Topology.of(settings.broker)

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


def receivable_of(
    app: Forwardflow, text: str, *, portfolio_id: str | None = None, tenant: str | None = None
) -> str:
    """The receivable a controller named: its platform id, or the invoice number they see.

    Looked up in the portfolio first (when given), then in the tenant's ledger; an id is
    taken as it is, a number must name exactly one invoice. Unknown text is returned
    unchanged, for the command to refuse with its rule.
    """
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(portfolio_id) if portfolio_id else None
        if portfolio is not None:
            if text in portfolio.lines:
                return text
            named = [r for r, line in portfolio.lines.items() if line.invoice_number == text]
            if len(named) == 1:
                return named[0]
            tenant = tenant or portfolio.tenant
        if tenant is None:
            return text
        ledger = uow.ledger.load(tenant)
    if ledger.receivable(text) is not None:
        return text
    numbered = [r.id for r in ledger.receivables() if r.number == text]
    if len(numbered) > 1:
        raise DomainError(
            "receivable.ambiguous",
            f"invoice number {text} names {len(numbered)} invoices; give the id "
            f"({', '.join(numbered[:5])})",
        )
    return numbered[0] if numbered else text


def print_json(data: Any) -> None:
    """Print ``data`` as highlighted JSON."""
    console.print_json(json.dumps(data))


def with_broker(
    ctx: typer.Context, work: Callable[[BrokerConnection, Forwardflow], Awaitable[T]]
) -> T:
    """Run ``work`` with a connected broker (joining or starting the server) and the app."""
    settings = state(ctx).settings()

    async def run() -> T:
        async with connect_broker(settings) as connection:
            app = state(ctx).app()
            try:
                return await work(connection, app)
            finally:
                app.close()

    try:
        return asyncio.run(run())
    except OSError as error:
        err_console.print(f"[bold red]broker unreachable:[/] {escape(str(error))}")
        raise typer.Exit(code=1) from None


def day_or_today(value: datetime | None) -> date:
    """A ``--date`` option's day, or today when it was not given."""
    return value.date() if value else today()


def money_option(text: str, currency: str, option: str) -> Money:
    """An amount typed on the command line, in the portfolio's currency."""
    try:
        return Money(Decimal(text), currency)
    except (InvalidOperation, DomainError):
        raise typer.BadParameter(f"{text!r} is not an amount", param_hint=option) from None
