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
from connectors.quickbooks.oauth import revoke, valid_realm
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.scenario import load_scenario
from emulators.quickbooks.server import EmulatorServer
from forwardflow.cli.context import console, err_console
from forwardflow.cli.dispatch import JsonFlag, print_json, query, with_broker
from forwardflow.connect import mint_link
from forwardflow.quickbooks import (
    PLATFORM,
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


@quickbooks_app.command("connect")
def quickbooks_connect(
    ctx: typer.Context,
    company: Annotated[
        str | None,
        typer.Option(
            "--company",
            metavar="REALM",
            help="Reconnect this company: the grant must be for it (a connected company can "
            "only be reconnected this way).",
        ),
    ] = None,
    minutes: Annotated[
        float, typer.Option(min=1, max=1440, help="How long the link stays valid.")
    ] = 15,
    as_json: JsonFlag = False,
) -> None:
    """Print a single-use link that connects a QuickBooks company (open it as the firm's admin).

    Only someone who can run this on the server can start a connection: the link is
    signed with the installation's secret key, expires, works once, and the browser that
    opens it is the only one the service accepts Intuit's answer from.
    """
    if company is not None and not valid_realm(company):
        raise typer.BadParameter("a QuickBooks company id is digits only", param_hint="--company")

    def work(app: Any) -> tuple[str, datetime]:
        auth_client(app)  # refuse early when the Intuit app is not configured
        return mint_link(app, PLATFORM, company_id=company, minutes=minutes)

    link, expires = query(ctx, work)
    if as_json:
        print_json({"link": link, "expires_at": expires.isoformat(), "company": company})
        return
    console.print(
        f"Open this link in the browser of the firm's QuickBooks admin "
        f"(once, until {expires:%Y-%m-%d %H:%M} UTC):\n{link}",
        soft_wrap=True,
        highlight=False,
    )


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
