"""``forwardflow <platform> …``: connected companies of one platform, by hand.

The same commands for every registered platform (``forwardflow.platforms``): list the
companies with their token health, mint a connect link, backfill, catch up, disconnect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from connectors.platform import Platform, PlatformError
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.bus import Bus
from forwardflow.broker.runtime import BrokerConnection
from forwardflow.cli.context import console, err_console
from forwardflow.cli.dispatch import JsonFlag, print_json, query, with_broker
from forwardflow.companies import (
    backfill_company,
    catch_up_company,
    companies,
    disconnect_company,
)
from forwardflow.connect import mint_link
from forwardflow.wired import WiredPlatform

__all__ = ["platform_app"]

T = TypeVar("T")

CompanyArg = Annotated[
    str, typer.Argument(metavar="COMPANY", help="The company's id on the platform.")
]


def platform_app(platform: type[Platform]) -> typer.Typer:
    """The ``forwardflow <platform>`` commands of one platform."""
    name, title = platform.name, platform.title
    cli = typer.Typer(help=f"Connected {title} companies.", no_args_is_help=True)

    def refused(error: PlatformError) -> typer.Exit:
        err_console.print(f"[bold red]{title} refused:[/] {escape(str(error))}")
        return typer.Exit(code=1)

    def on_broker(ctx: typer.Context, work: Callable[[WiredPlatform], Awaitable[T]]) -> T:
        async def run(connection: BrokerConnection, app: Forwardflow) -> T:
            return await work(app.platform(name, Bus(connection.broker, app.topology)))

        try:
            return with_broker(ctx, run)
        except PlatformError as error:
            raise refused(error) from None

    @cli.command("companies")
    def list_companies(ctx: typer.Context, as_json: JsonFlag = False) -> None:
        """Connected companies and the health of their tokens (never the tokens)."""
        _companies(ctx, name, title, as_json)

    _connect_command(cli, platform, refused)
    _backfill_command(cli, platform, on_broker)

    @cli.command("catch-up")
    def catch_up(ctx: typer.Context, company: CompanyArg) -> None:
        """Run change-data-capture for one company now (the service does it regularly)."""
        report = on_broker(ctx, lambda w: catch_up_company(w, company))
        console.print(f"caught up {company}: {report.fetched}")

    @cli.command("disconnect")
    def disconnect(ctx: typer.Context, company: CompanyArg) -> None:
        """Revoke forwardflow's access at the platform and forget the company's tokens."""
        try:
            query(ctx, lambda app: disconnect_company(app.platform(name), company))
        except PlatformError as error:
            raise refused(error) from None
        console.print(f"disconnected {company}")

    return cli


def _companies(ctx: typer.Context, name: str, title: str, as_json: bool) -> None:
    rows = query(ctx, lambda app: companies(app, name))
    now = datetime.now(UTC)
    shown: list[dict[str, Any]] = []
    for company in rows:
        days = (company.refresh_expires_at - now).days
        shown.append(
            {
                "company_id": company.company_id,
                "tenant": company.tenant,
                "connected_at": str(company.connected_at),
                "refresh_token_days_left": days,
                "health": "ok" if days > 30 else "reconnect soon" if days > 0 else "expired",
            }
        )
    if as_json:
        print_json(shown)
        return
    table = Table(title=f"{len(shown)} {title} compan(y/ies)")
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


def _connect_command(
    cli: typer.Typer, platform: type[Platform], refused: Callable[[PlatformError], typer.Exit]
) -> None:
    name, title = platform.name, platform.title

    @cli.command("connect")
    def connect(
        ctx: typer.Context,
        company: Annotated[
            str | None,
            typer.Option(
                "--company",
                metavar="COMPANY",
                help="Reconnect this company: the grant must be for it (a connected company "
                "can only be reconnected this way).",
            ),
        ] = None,
        minutes: Annotated[
            float, typer.Option(min=1, max=1440, help="How long the link stays valid.")
        ] = 15,
        as_json: JsonFlag = False,
    ) -> None:
        """Print a single-use link that connects a company (open it as the firm's admin).

        Only someone who can run this on the server can start a connection: the link is
        signed with the installation's secret key, expires, works once, and the browser
        that opens it is the only one the service accepts the platform's answer from.
        """
        if company is not None and not platform().valid_company_id(company):
            raise typer.BadParameter(f"not a {title} company id", param_hint="--company")

        def work(app: Forwardflow) -> tuple[str, datetime]:
            wired = app.platform(name)
            wired.platform.authorization_url(wired, "probe")  # refuse early: app not set up
            return mint_link(wired, company_id=company, minutes=minutes)

        try:
            link, expires = query(ctx, work)
        except PlatformError as error:
            raise refused(error) from None
        if as_json:
            print_json({"link": link, "expires_at": expires.isoformat(), "company": company})
            return
        console.print(
            f"Open this link in the browser of the firm's {title} admin "
            f"(once, until {expires:%Y-%m-%d %H:%M} UTC):\n{link}",
            soft_wrap=True,
            highlight=False,
        )


def _backfill_command(
    cli: typer.Typer, platform: type[Platform], on_broker: Callable[..., Any]
) -> None:
    @cli.command("backfill")
    def backfill(ctx: typer.Context, company: CompanyArg) -> None:
        """First connection: publish customers, open invoices and their payments."""
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=err_console
        ) as bar:
            task = bar.add_task(f"backfilling {company}", total=None)
            counts: dict[str, int] = {}

            def progress(count: int, entity: str) -> None:
                counts[entity] = counts.get(entity, 0) + count
                done = ", ".join(f"{k.lower()}s {v:,}" for k, v in counts.items())
                bar.update(task, description=f"backfilling {company}: {done}")

            total = on_broker(ctx, lambda w: backfill_company(w, company, progress))
        console.print(f"backfilled {company}: {total:,} ledger changes published")
