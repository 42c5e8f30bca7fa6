"""``forwardflow db``: create and upgrade the state store's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from forwardflow.cli.context import console, state
from forwardflow.config_view import mask_url
from forwardflow.store import current_revision, head_revision, upgrade

__all__ = ["db_app"]

db_app = typer.Typer(help="Create and upgrade the state store's schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply schema migrations up to the newest (or the given) revision."""
    app = state(ctx).app()
    try:
        before = current_revision(app.engine)
        after = upgrade(app.engine, revision)
    finally:
        app.close()
    where = mask_url(app.settings.database_url)
    if before == after:
        console.print(f"database {where} already at revision [bold]{after}[/]")
    else:
        console.print(f"database {where} upgraded {before or '(empty)'} → [bold]{after}[/]")


@db_app.command("current")
def current_command(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the newest one available."""
    app = state(ctx).app()
    try:
        current = current_revision(app.engine)
    finally:
        app.close()
    head = head_revision()
    mark = "[green]up to date[/]" if current == head else "[yellow]run `forwardflow db upgrade`[/]"
    console.print(f"database at {current or '(empty)'}; newest {head}: {mark}")
