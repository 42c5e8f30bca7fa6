"""``forwardflow quickbooks`` and ``forwardflow emulator``: connected companies, by hand."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from connectors.quickbooks.client import PlatformError
from connectors.quickbooks.emulator.app import Emulator
from connectors.quickbooks.emulator.scenario import load_scenario
from connectors.quickbooks.emulator.server import EmulatorServer
from connectors.quickbooks.oauth import revoke
from forwardflow.cli.context import console, err_console
from forwardflow.cli.dispatch import JsonFlag, print_json, query, with_broker
from forwardflow.quickbooks import (
    SqlTokenStore,
    auth_client,
    backfill_company,
    catch_up_company,
    companies,
)

__all__ = ["emulator_app", "quickbooks_app"]

quickbooks_app = typer.Typer(help="Connected QuickBooks companies.", no_args_is_help=True)
emulator_app = typer.Typer(help="Local emulators of accounting platforms.", no_args_is_help=True)

Realm = Annotated[str, typer.Argument(metavar="REALM", help="The QuickBooks company (realm) id.")]


@quickbooks_app.command("companies")
def quickbooks_companies(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Connected companies and the health of their tokens (never the tokens)."""
    rows = query(ctx, companies)
    now = datetime.now(UTC)
    shown: list[dict[str, Any]] = []
    for row in rows:
        refresh = row["refresh_expires_at"]
        refresh = refresh if refresh.tzinfo else refresh.replace(tzinfo=UTC)
        days = (refresh - now).days
        shown.append(
            {
                "company_id": row["company_id"],
                "tenant": row["tenant"],
                "connected_at": str(row["connected_at"]),
                "refresh_token_days_left": days,
                "health": "ok" if days > 30 else "reconnect soon" if days > 0 else "expired",
            }
        )
    if as_json:
        print_json(shown)
        return
    table = Table(title=f"{len(shown)} QuickBooks compan(y/ies)")
    for column in ("company", "tenant", "connected", "refresh token", "health"):
        table.add_column(column)
    for row in shown:
        table.add_row(
            row["company_id"],
            row["tenant"],
            row["connected_at"],
            f"{row['refresh_token_days_left']} days left",
            row["health"],
        )
    console.print(table)


def _on_broker(ctx: typer.Context, work: Any) -> Any:
    """``with_broker``, with QuickBooks' refusals said plainly."""
    try:
        return with_broker(ctx, lambda connection, app: work(connection.broker, app))
    except PlatformError as error:
        err_console.print(f"[bold red]QuickBooks refused:[/] {escape(str(error))}")
        raise typer.Exit(code=1) from None


@quickbooks_app.command("backfill")
def quickbooks_backfill(ctx: typer.Context, realm: Realm) -> None:
    """First connection: publish customers, open invoices and their payments."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console) as bar:
        task = bar.add_task(f"backfilling {realm}", total=None)
        counts: dict[str, int] = {}

        def progress(count: int, entity: str) -> None:
            counts[entity] = counts.get(entity, 0) + count
            done = ", ".join(f"{k.lower()}s {v:,}" for k, v in counts.items())
            bar.update(task, description=f"backfilling {realm}: {done}")

        total = _on_broker(ctx, lambda b, a: backfill_company(b, a, realm, progress))
    console.print(f"backfilled {realm}: {total:,} ledger changes published")


@quickbooks_app.command("catch-up")
def quickbooks_catch_up(ctx: typer.Context, realm: Realm) -> None:
    """Run change-data-capture for one company now (the service does it every 15 minutes)."""
    report = _on_broker(ctx, lambda b, a: catch_up_company(b, a, realm))
    console.print(f"caught up {realm}: {report.fetched}")


@quickbooks_app.command("disconnect")
def quickbooks_disconnect(ctx: typer.Context, realm: Realm) -> None:
    """Revoke forwardflow's access at Intuit and forget the company's tokens."""

    def work(app: Any) -> None:
        store = SqlTokenStore(app)
        tokens = store.load(realm)
        revoke(auth_client(app), tokens.refresh_token)
        store.forget(realm)

    try:
        query(ctx, work)
    except PlatformError as error:
        err_console.print(f"[bold red]QuickBooks refused:[/] {escape(str(error))}")
        raise typer.Exit(code=1) from None
    console.print(f"disconnected {realm}")


@emulator_app.command("quickbooks")
def emulator_quickbooks(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks one).")] = 0,
    scenario: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Scenario JSON to seed.")
    ] = None,
    realm: Annotated[str, typer.Option(help="Realm of the seeded company.")] = "4620816365",
    webhook_url: Annotated[
        str | None, typer.Option(help="Where to send signed webhooks (forwardflow's endpoint).")
    ] = None,
) -> None:
    """Serve a QuickBooks Online emulator (v3 API, OAuth, signed webhooks) until Ctrl-C."""
    emulator = Emulator(webhook_url=webhook_url)
    company = emulator.company(realm)
    if scenario is not None:
        load_scenario(company, json.loads(scenario.read_text(encoding="utf-8")))
    with EmulatorServer(emulator, port) as server:
        console.print(
            f"QuickBooks emulator for realm {realm} at {server.url}\n"
            f"  quickbooks.api_base_url  = {server.api_url_v3}\n"
            f"  quickbooks.discovery_url = {server.discovery_url}\n"
            f"  quickbooks.client_id     = {emulator.client_id}\n"
            f"  client_secret / verifier_token: {emulator.client_secret} / "
            f"{emulator.verifier_token}"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("emulator stopped")
