"""``forwardflow putback``: the buyer's return requests — file one, decide it, list them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from debtsale.agreement import PutbackReason
from debtsale.commands import DecidePutback, RequestPutback
from debtsale.portfolio import Portfolio
from debtsale.reports import PutbackLedger, as_data
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
    receivable_of,
)
from forwardflow.inbound import refused_lines

__all__ = ["putback_app"]

putback_app = typer.Typer(help="File, decide and list put-back requests.", no_args_is_help=True)

DayOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (default today).")
]


def _evidence(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        kind, sep, reference = pair.partition("=")
        if not sep or not kind or not reference:
            raise typer.BadParameter(f"{pair!r} is not KIND=REFERENCE", param_hint="--evidence")
        found[kind] = reference
    return found


def _show_request(portfolio: Portfolio, request_id: str) -> None:
    record = portfolio.putbacks[request_id]
    decision = record.decision
    detail = f" — {decision.rule}: {escape(decision.detail)}" if decision.rule else ""
    refund = f", refund {decision.refund.amount:,} {portfolio.currency}" if decision.refund else ""
    replacement = f", replaced by {decision.replacement_id}" if decision.replacement_id else ""
    console.print(
        f"put-back [bold]{request_id}[/] ({record.request.receivable_id}): "
        f"[bold]{decision.status.value}[/]{refund}{replacement}{detail}",
        highlight=False,
    )


@putback_app.command("request")
def putback_request(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="PORTFOLIO")],
    receivable: Annotated[
        str, typer.Argument(metavar="RECEIVABLE", help="Invoice id or invoice number.")
    ],
    reason: Annotated[PutbackReason, typer.Option(help="Why the buyer returns it.")],
    fact_date: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="When the fact arose (YYYY-MM-DD).")
    ],
    requested_on: DayOption = None,
    evidence: Annotated[
        list[str] | None, typer.Option(help="KIND=REFERENCE, e.g. case_number=24-10001.")
    ] = None,
    buyer_collections: Annotated[
        str | None, typer.Option(help="What the buyer collected on it itself.")
    ] = None,
    replacement: Annotated[
        str | None, typer.Option(help="Ask for this receivable instead of a refund.")
    ] = None,
    request_id: Annotated[str | None, typer.Option("--id", help="Request id.")] = None,
    via_service: ViaServiceFlag = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """File a buyer's request to return a sold receivable; the agreement's rules check it."""
    day = day_or_today(requested_on)
    named = receivable
    receivable = query(ctx, lambda app: receivable_of(app, named, portfolio_id=portfolio_id))
    if replacement is not None:
        wanted = replacement
        replacement = query(ctx, lambda app: receivable_of(app, wanted, portfolio_id=portfolio_id))
    rid = request_id or f"{receivable}-{day.isoformat()}"
    currency = query(ctx, lambda app: portfolio_of(app, portfolio_id)).currency
    command = RequestPutback(
        command_id=f"cli:putback-request:{portfolio_id}:{rid}",
        portfolio_id=portfolio_id,
        request_id=rid,
        receivable_id=receivable,
        reason=reason,
        fact_date=fact_date.date(),
        requested_on=day,
        evidence=_evidence(evidence or []),
        buyer_collections=(
            money_option(buyer_collections, currency, "--buyer-collections")
            if buyer_collections is not None
            else None
        ),
        replacement_id=replacement,
    )
    execute(ctx, command, via_service=via_service, timeout=timeout)
    _show_request(query(ctx, lambda app: portfolio_of(app, portfolio_id)), rid)


@putback_app.command("decide")
def putback_decide(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="PORTFOLIO")],
    request_id: Annotated[str, typer.Argument(metavar="REQUEST")],
    accept: Annotated[bool, typer.Option("--accept/--decline", help="The seller's decision.")],
    decided_on: DayOption = None,
    reinstate: Annotated[
        bool, typer.Option(help="Book the refunded receivable back to pursue it again.")
    ] = False,
    replacement: Annotated[
        str | None,
        typer.Option(help="Give this receivable (id or invoice number) instead of a refund."),
    ] = None,
    note: Annotated[str, typer.Option(help="Why (kept with a decline).")] = "",
    via_service: ViaServiceFlag = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Accept (refund, or replacement) or decline a pending put-back request."""
    if replacement is not None:
        wanted = replacement
        replacement = query(ctx, lambda app: receivable_of(app, wanted, portfolio_id=portfolio_id))
    command = DecidePutback(
        command_id=f"cli:putback-decide:{portfolio_id}:{request_id}",
        portfolio_id=portfolio_id,
        request_id=request_id,
        accept=accept,
        decided_on=day_or_today(decided_on),
        reinstate=reinstate,
        replacement_id=replacement,
        note=note,
    )
    execute(ctx, command, via_service=via_service, timeout=timeout)
    _show_request(query(ctx, lambda app: portfolio_of(app, portfolio_id)), request_id)


@putback_app.command("list")
def putback_list(
    ctx: typer.Context,
    portfolio_id: Annotated[str, typer.Argument(metavar="PORTFOLIO")],
    as_json: JsonFlag = False,
) -> None:
    """Every put-back request of a portfolio, its decision and refund; net proceeds.

    Lines of the buyer's request files that broke a rule are listed after the requests.
    """
    ledger = PutbackLedger.of(query(ctx, lambda app: portfolio_of(app, portfolio_id)))
    refused = query(ctx, lambda app: refused_lines(app, portfolio_id))
    if as_json:
        print_json({**as_data(ledger), "refused_lines": refused})
        return
    table = Table(
        title=f"put-backs of {portfolio_id}: refunds {ledger.refunds.amount:,}, net proceeds "
        f"{ledger.net_proceeds.amount:,} {ledger.currency}"
    )
    for column in ("request", "receivable", "reason", "requested", "status", "rule", "refund"):
        table.add_column(column, justify="right" if column == "refund" else "left")
    for row in ledger.rows:
        table.add_row(
            row.request_id,
            row.receivable_id,
            row.reason,
            row.requested_on.isoformat(),
            row.status.value,
            row.rule or "",
            f"{row.refund.amount:,}",
        )
    console.print(table)
    if refused:
        lines = Table(title=f"{len(refused)} line(s) of the buyer's files refused")
        for column in ("file", "line", "receivable", "rule", "detail"):
            lines.add_column(column)
        for line in refused:
            lines.add_row(
                *(escape(line[k]) for k in ("file", "line", "receivable_id", "rule")),
                escape(line["detail"]),
            )
        console.print(lines)
