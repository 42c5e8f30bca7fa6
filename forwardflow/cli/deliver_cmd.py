"""``forwardflow deliver``, ``deliveries`` and ``buyer show``: sale files to buyers, by hand."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from debtsale.agreement import DeliveryTerms
from forwardflow.bootstrap import Forwardflow
from forwardflow.buyer_files import send_buyer_files
from forwardflow.cli.context import console, err_console
from forwardflow.cli.dispatch import JsonFlag, print_json, query
from forwardflow.delivery import (
    BuyerKeys,
    DeliveryFailedError,
    buyer_keys,
    deliver_portfolio,
    delivery_terms,
)
from forwardflow.inbound import process_buyer_inbox
from sftp.connection import pinned_fingerprint
from sftp.deliver import DeliveryError
from sftp.names import UnsafeNameError
from sftp.openpgp import message_format

__all__ = ["buyer_app", "deliver", "deliveries"]

buyer_app = typer.Typer(
    help="Buyers' delivery settings and key fingerprints.", no_args_is_help=True
)


def deliver(
    ctx: typer.Context, portfolio_id: Annotated[str, typer.Argument(metavar="PORTFOLIO")]
) -> None:
    """Build, encrypt and upload a closed portfolio's sale file (safe to run again)."""
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"delivering {portfolio_id}", total=None)

            def advance(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            receipt = query(ctx, lambda a: deliver_portfolio(a, portfolio_id, advance))
    except (DeliveryError, UnsafeNameError) as error:
        kind = "will retry later" if isinstance(error, DeliveryFailedError) else "refused"
        err_console.print(f"[bold red]delivery failed ({kind}):[/] {escape(str(error))}")
        raise typer.Exit(code=1) from None
    table = Table(title=f"{portfolio_id} delivered in {receipt.attempts} attempt(s)")
    for column in ("remote path", "bytes", "sha-256", "outcome"):
        table.add_column(column, justify="right" if column == "bytes" else "left")
    for placed in receipt.files:
        table.add_row(
            placed["remote_path"],
            f"{placed['size']:,}",
            placed["sha256"][:16] + "…",
            placed["outcome"],
        )
    console.print(table)


def deliveries(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every portfolio's latest delivery receipt."""

    def work(app: Forwardflow) -> list[dict[str, Any]]:
        with app.unit_of_work() as uow:
            return uow.deliveries.list()

    receipts = query(ctx, work)
    if as_json:
        print_json(receipts)
        return
    table = Table(title=f"{len(receipts)} deliver(y/ies)")
    for column in ("portfolio", "status", "attempts", "finished", "file", "error"):
        table.add_column(column)
    for receipt in receipts:
        table.add_row(
            receipt["portfolio_id"],
            receipt["status"],
            str(receipt.get("attempts_total", receipt["attempts"])),
            receipt["finished_at"],
            receipt["files"][0]["remote_path"] if receipt["files"] else "",
            escape(receipt["error"][:80]),
        )
    console.print(table)


def _file_format(keys: BuyerKeys, terms: DeliveryTerms) -> str:
    if keys.buyer_fingerprint is None:
        return "unknown: no buyer certificate"
    found = message_format(keys.buyer_certificate)
    if found == "SEIPD v1":
        form = "armored" if terms.armor else "binary"
        return f"{found}, {form}: gpg 2.2/2.4 read it"
    if terms.reads_rfc9580:
        return f"{found}: the agreement says the buyer reads RFC 9580"
    return f"{found}: REFUSED, gpg 2.2/2.4 cannot read it (ask for a gpg-made key)"


@buyer_app.command("show")
def buyer_show(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="AGREEMENT")],
    as_json: JsonFlag = False,
) -> None:
    """Where the buyer's files go, its pinned host key, and every key's fingerprint."""

    def work(app: Forwardflow) -> dict[str, Any]:
        with app.unit_of_work() as uow:
            agreement = uow.agreements.get(agreement_id)
        terms = delivery_terms(agreement)
        keys = buyer_keys(app, terms)
        return {
            "agreement": agreement.id,
            "buyer": agreement.buyer,
            "sftp": f"{terms.username}@{terms.host}:{terms.port}/{terms.directory}",
            "host_key_pin": pinned_fingerprint(terms.host_key),
            "upload_strategy": terms.strategy.value,
            "buyer_certificate": str(keys.buyer_certificate.resolve()),
            "buyer_fingerprint": keys.buyer_fingerprint or "MISSING",
            "file_format": _file_format(keys, terms),
            "seller_fingerprint": keys.seller_fingerprint,
            "seller_certificate": str(keys.seller_certificate.resolve()),
            "our_ssh_key": keys.ssh_public,
        }

    shown = query(ctx, work)
    if as_json:
        print_json(shown)
        return
    table = Table(title=f"buyer of {agreement_id}", show_header=False)
    table.add_column(style="cyan")
    table.add_column()
    for key, value in shown.items():
        table.add_row(key.replace("_", " "), escape(value))
    console.print(table)


@buyer_app.command("inbox")
def buyer_inbox(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="AGREEMENT")],
    as_json: JsonFlag = False,
) -> None:
    """Apply the put-back request files in the buyer's inbound folder and answer each one."""
    results = query(ctx, lambda app: process_buyer_inbox(app, agreement_id))
    if as_json:
        print_json([{"name": r.name, "rows": r.rows} for r in results])
        return
    if not results:
        console.print("no request files waiting")
        return
    table = Table(title=f"{len(results)} request file(s) processed")
    for column in ("file", "line", "receivable", "status", "rule", "detail"):
        table.add_column(column)
    for result in results:
        for row in result.rows:
            table.add_row(
                result.name,
                row.get("line", ""),
                row.get("receivable_id", ""),
                row.get("status", ""),
                row.get("rule", ""),
                escape(row.get("detail", "")[:80]),
            )
    console.print(table)


@buyer_app.command("send")
def buyer_send(
    ctx: typer.Context,
    agreement_id: Annotated[str, typer.Argument(metavar="AGREEMENT")],
    as_json: JsonFlag = False,
) -> None:
    """Send the buyer what it was not told yet: put-back decisions (outcome, rule, refund and
    its date) and remittance statements that changed. The service does this with each
    inbox poll."""
    sent = query(ctx, lambda app: send_buyer_files(app, agreement_id))
    if as_json:
        print_json(
            {"files": sent.files, "decisions": sent.decisions, "statements": sent.statements}
        )
        return
    if not sent.files:
        console.print("nothing new to tell the buyer")
        return
    console.print(
        f"sent {sent.decisions} put-back decision(s) and {sent.statements} statement(s): "
        + ", ".join(sent.files)
    )
