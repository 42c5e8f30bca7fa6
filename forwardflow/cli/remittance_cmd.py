"""``forwardflow remittance``: what the seller owes the buyer, and recording what it paid."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from debtsale.commands import RecordRemittance
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport, as_data
from forwardflow.bootstrap import Forwardflow
from forwardflow.cli.context import console
from forwardflow.cli.dispatch import (
    JsonFlag,
    TimeoutOption,
    ViaServiceFlag,
    day_or_today,
    execute,
    money_option,
    portfolio_of,
    print_json,
    query,
)

__all__ = ["remittance_app", "statement_of"]

remittance_app = typer.Typer(
    help="Amounts owed to the buyer for payments after the sale, and remittances.",
    no_args_is_help=True,
)


def statement_of(app: Forwardflow, portfolio_id: str, as_of: date) -> AmountsDueReport:
    """The remittance statement of a portfolio on ``as_of``."""
    portfolio = portfolio_of(app, portfolio_id)
    with app.unit_of_work() as uow:
        terms = uow.agreements.get(portfolio.agreement_id).remittance
        items = amounts_due(portfolio, uow.ledger.load(portfolio.tenant), terms)
    return AmountsDueReport.of(portfolio, items, as_of)


@remittance_app.command("statement")
def remittance_statement(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="PORTFOLIO")],
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="YYYY-MM-DD (default today)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Money received on sold receivables that is the buyer's: due dates, remitted, outstanding,
    and what was announced and withdrawn since (its payment voided, deleted or changed)."""
    day = day_or_today(as_of)
    report = query(ctx, lambda app: statement_of(app, portfolio_id, day))
    if as_json:
        print_json(as_data(report))
        return
    table = Table(
        title=f"owed to the buyer of {portfolio_id} as of {day}: due {report.due.amount:,}, "
        f"remitted {report.remitted.amount:,}, outstanding {report.outstanding.amount:,}, "
        f"due now {report.due_now.amount:,} {report.currency}"
    )
    for column in ("receivable", "source", "received", "due on", "amount"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for item in report.items:
        table.add_row(
            item.receivable_id,
            item.source,
            item.received_on.isoformat(),
            item.due_on.isoformat(),
            f"{item.amount.amount:,}",
        )
    console.print(table)
    if report.withdrawn:
        withdrawn = Table(
            title=f"withdrawn (announced, then the payment was voided, deleted or changed): "
            f"{len(report.withdrawn)}"
        )
        for column in ("receivable", "source", "received", "withdrawn on", "amount"):
            withdrawn.add_column(column, justify="right" if column == "amount" else "left")
        for held in report.withdrawn:
            withdrawn.add_row(
                held.receivable_id,
                held.source,
                held.received_on.isoformat(),
                held.withdrawn_on.isoformat() if held.withdrawn_on else "",
                f"{held.amount.amount:,}",
            )
        console.print(withdrawn)


@remittance_app.command("record")
def remittance_record(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="PORTFOLIO")],
    amount: Annotated[str, typer.Option(help="What was paid to the buyer, e.g. 1250.00.")],
    paid_on: Annotated[
        datetime | None,
        typer.Option("--paid-on", formats=["%Y-%m-%d"], help="YYYY-MM-DD (default today)."),
    ] = None,
    remittance_id: Annotated[str | None, typer.Option("--id", help="Remittance id.")] = None,
    via_service: ViaServiceFlag = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Record a payment to the buyer; more than is outstanding is refused."""
    day = day_or_today(paid_on)
    currency = query(ctx, lambda app: portfolio_of(app, portfolio_id)).currency
    money = money_option(amount, currency, "--amount")
    rid = remittance_id or f"{day.isoformat()}-{money.amount}"
    command = RecordRemittance(
        command_id=f"cli:remittance:{portfolio_id}:{rid}",
        portfolio_id=portfolio_id,
        remittance_id=rid,
        paid_on=day,
        amount=money,
    )
    outcome = execute(ctx, command, via_service=via_service, timeout=timeout)
    console.print(
        f"remittance [bold]{rid}[/] of {money.amount:,} {currency} to the buyer of "
        f"{portfolio_id}: {outcome}"
    )
