"""``forwardflow agreement`` and ``forwardflow portfolio``: the controller's commands.

They run in-process against the store; the events they raise wait in the outbox for
``forwardflow run`` to relay. Re-running a command is recognised by its id and does
nothing twice.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from debtsale.commands import ClosePortfolio, CutPortfolio, RemoveReceivable
from debtsale.lifecycle import ExclusionReason
from debtsale.portfolio import Portfolio
from debtsale.reports import ReconciliationReport, as_data
from debtsale.settlement import PutbackCandidate, putback_candidates
from debtsale.valuation import value_receivables
from forwardflow.bootstrap import Forwardflow
from forwardflow.cli.context import console
from forwardflow.cli.dispatch import (
    JsonFlag,
    TimeoutOption,
    ViaServiceFlag,
    execute,
    portfolio_of,
    print_json,
    query,
    receivable_of,
)
from forwardflow.cli.render import (
    candidates_table,
    completeness_table,
    reconciliation_lines_table,
    reconciliation_table,
    valuation_table,
)
from forwardflow.store.flags import SqlFlagStore
from handlers.outcome import Outcome

__all__ = ["agreement_app", "portfolio_app"]

agreement_app = typer.Typer(help="Add and list sale agreements.", no_args_is_help=True)
portfolio_app = typer.Typer(help="Cut, close and report on portfolios.", no_args_is_help=True)

DateOption = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD.")]


@agreement_app.command("add")
def agreement_add(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Agreement TOML.")],
) -> None:
    """Validate and store a sale agreement from a TOML file."""

    def work(app: Forwardflow) -> str:
        with app.unit_of_work() as uow:
            agreement = uow.agreements.add(file.read_text(encoding="utf-8"))
            uow.commit()
        return agreement.id

    console.print(f"agreement [bold]{query(ctx, work)}[/] added")


@agreement_app.command("list")
def agreement_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the stored agreements."""

    def work(app: Forwardflow) -> list[Any]:
        with app.unit_of_work() as uow:
            return uow.agreements.list()

    agreements = query(ctx, work)
    if as_json:
        print_json([a.model_dump(mode="json") for a in agreements])
        return
    table = Table(title=f"{len(agreements)} agreement(s)")
    for column in ("id", "buyer", "kind", "currency", "cut-off policy", "put-back window"):
        table.add_column(column)
    for a in agreements:
        table.add_row(
            a.id,
            a.buyer,
            a.kind.value,
            a.currency,
            a.cutoff_policy.value,
            f"{a.putback.window_days} days",
        )
    console.print(table)


@portfolio_app.command("cut")
def portfolio_cut(
    ctx: typer.Context,
    agreement: Annotated[str, typer.Option(help="Agreement id.")],
    cutoff: DateOption,
    tenant: Annotated[str, typer.Option(help="The company (tenant) whose ledger to sell.")],
    portfolio_id: Annotated[str | None, typer.Option("--id", help="Portfolio id.")] = None,
    via_service: ViaServiceFlag = False,
    timeout: TimeoutOption = 30.0,
    only_advised: Annotated[
        bool, typer.Option("--only-advised", help="Only cohorts the valuation advises to sell.")
    ] = False,
    exclude_customer: Annotated[
        list[str] | None,
        typer.Option("--exclude-customer", help="Leave this customer id out (repeatable)."),
    ] = None,
) -> None:
    """Select the eligible receivables and freeze their face at the cut-off date."""
    pid = portfolio_id or f"{agreement}-{cutoff.date().isoformat()}"
    command = CutPortfolio(
        command_id=f"cli:cut:{pid}",
        tenant=tenant,
        portfolio_id=pid,
        agreement_id=agreement,
        cutoff=cutoff.date(),
        only_advised=only_advised,
        excluded_customers=tuple(exclude_customer or ()),
    )
    outcome = execute(ctx, command, via_service=via_service, timeout=timeout)
    portfolio = query(ctx, lambda app: portfolio_of(app, pid))
    verb = "cut" if outcome is Outcome.APPLIED else "was already cut"
    console.print(
        f"portfolio [bold]{pid}[/] {verb}: {len(portfolio.lines):,} receivables, "
        f"face {portfolio.total_face_at_cutoff.amount:,}, price "
        f"{portfolio.total_price_at_cutoff.amount:,} {portfolio.currency}"
    )


@portfolio_app.command("remove")
def portfolio_remove(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="ID")],
    receivable: Annotated[
        str, typer.Argument(metavar="RECEIVABLE", help="Invoice id or invoice number.")
    ],
    reason: Annotated[ExclusionReason, typer.Option(help="Why it leaves the sale.")],
    via_service: ViaServiceFlag = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Drop a receivable from a portfolio before it closes."""
    named = receivable
    receivable = query(ctx, lambda app: receivable_of(app, named, portfolio_id=portfolio_id))
    command = RemoveReceivable(
        command_id=f"cli:remove:{portfolio_id}:{receivable}",
        portfolio_id=portfolio_id,
        receivable_id=receivable,
        reason=reason,
    )
    outcome = execute(ctx, command, via_service=via_service, timeout=timeout)
    console.print(f"receivable [bold]{receivable}[/] removed from {portfolio_id} ({outcome})")


@portfolio_app.command("close")
def portfolio_close(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="ID")],
    closing: DateOption,
    via_service: ViaServiceFlag = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Reconcile to the closing date under the agreement's cut-off policy, and sell."""
    command = ClosePortfolio(
        command_id=f"cli:close:{portfolio_id}", portfolio_id=portfolio_id, closing=closing.date()
    )
    execute(ctx, command, via_service=via_service, timeout=timeout)
    console.print(reconciliation_table(query(ctx, lambda app: _reconciliation(app, portfolio_id))))


@portfolio_app.command("list")
def portfolio_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List portfolios with their status and totals."""

    def work(app: Forwardflow) -> list[Portfolio]:
        with app.unit_of_work() as uow:
            return uow.portfolios.list()

    rows = [_overview(p) for p in query(ctx, work)]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} portfolio(s)")
    for column in ("id", "agreement", "status", "cut-off", "closing", "receivables", "price"):
        table.add_column(column, justify="right" if column in ("receivables", "price") else "left")
    for row in rows:
        table.add_row(
            row["id"],
            row["agreement_id"],
            row["status"],
            row["cutoff"],
            row["closing"] or "",
            f"{row['receivables']:,}",
            row["price"],
        )
    console.print(table)


def _overview(portfolio: Portfolio) -> dict[str, Any]:
    closed = portfolio.closing is not None
    return {
        "id": portfolio.id,
        "agreement_id": portfolio.agreement_id,
        "tenant": portfolio.tenant,
        "status": portfolio.status.value,
        "cutoff": portfolio.cutoff.isoformat(),
        "closing": portfolio.closing.isoformat() if portfolio.closing else None,
        "receivables": len(portfolio.lines),
        "states": dict(Counter(line.state.value for line in portfolio.lines.values())),
        "face": str((portfolio.total_face if closed else portfolio.total_face_at_cutoff).amount),
        "price": str((portfolio.total_price if closed else portfolio.total_price_at_cutoff).amount),
        "refunds": str(portfolio.refunds.amount),
        "currency": portfolio.currency,
    }


@portfolio_app.command("show")
def portfolio_show(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonFlag = False,
) -> None:
    """Show a portfolio: status, dates, receivables by state, face and price."""
    overview = _overview(query(ctx, lambda app: portfolio_of(app, portfolio_id)))
    if as_json:
        print_json(overview)
        return
    table = Table(title=f"portfolio {portfolio_id}", show_header=False)
    table.add_column(style="cyan")
    table.add_column()
    for key, value in overview.items():
        shown = (
            ", ".join(f"{k}: {v:,}" for k, v in value.items())
            if isinstance(value, dict)
            else str(value)
        )
        table.add_row(key, shown)
    console.print(table)


def _reconciliation(app: Forwardflow, portfolio_id: str) -> ReconciliationReport:
    portfolio = portfolio_of(app, portfolio_id)
    with app.unit_of_work() as uow:
        ledger = uow.ledger.load(portfolio.tenant)
    return ReconciliationReport.of(portfolio, ledger)


@portfolio_app.command("reconcile")
def portfolio_reconcile(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonFlag = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the CSV here.")] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Totals only, without the receivables.")
    ] = False,
) -> None:
    """The reconciliation: every receivable's face at cut-off, adjustments, final face, price,
    days past due, age bucket and rate; loss on sale and net proceeds once closed."""
    report = query(ctx, lambda app: _reconciliation(app, portfolio_id))
    if csv_file is not None:
        with csv_file.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(report.csv_rows())
    if as_json:
        print_json(as_data(report))
        return
    if not summary:
        console.print(reconciliation_lines_table(report))
    console.print(reconciliation_table(report))


@portfolio_app.command("candidates")
def portfolio_candidates(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonFlag = False,
) -> None:
    """Sold receivables the buyer may put back: paid before the sale (a payment dated by the
    cut-off, recorded after the close) and facts dated by the closing flagged after it."""

    def work(app: Forwardflow) -> list[PutbackCandidate]:
        portfolio = portfolio_of(app, portfolio_id)
        with app.unit_of_work() as uow:
            ledger = uow.ledger.load(portfolio.tenant)
            flags = SqlFlagStore(uow.connection).dated(portfolio.tenant)
        return putback_candidates(portfolio, ledger, flags)

    found = query(ctx, work)
    if as_json:
        print_json({"portfolio_id": portfolio_id, "candidates": as_data(found)})
        return
    console.print(candidates_table(portfolio_id, found))


@portfolio_app.command("valuation")
def portfolio_valuation(
    ctx: typer.Context,
    agreement: Annotated[str, typer.Option(help="Agreement id whose rate card prices it.")],
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="YYYY-MM-DD.")],
    tenant: Annotated[str, typer.Option(help="The company (tenant).")],
    as_json: JsonFlag = False,
) -> None:
    """Value the open receivables per cohort: the buyer's offer beside internal recovery."""

    def work(app: Forwardflow) -> Any:
        with app.unit_of_work() as uow:
            terms = uow.agreements.get(agreement)
            return value_receivables(
                uow.ledger.load(tenant),
                terms,
                as_of.date(),
                taken=uow.portfolios.unavailable(tenant),
            )

    report = query(ctx, work)
    if as_json:
        print_json(as_data(report))
        return
    console.print(valuation_table(report))
    console.print(completeness_table(report))
