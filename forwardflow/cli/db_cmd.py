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


@db_app.command("wait")
def wait_command(
    ctx: typer.Context,
    timeout: Annotated[
        float, typer.Option(help="Give up (exit 1) after this many seconds.", min=0)
    ] = 600.0,
) -> None:
    """Wait until the schema is at this version's head (a role's init step, so roles start
    only after the migrate job); the database may not be up yet either."""
    import time

    head = head_revision()
    deadline = time.monotonic() + timeout
    app = state(ctx).app()
    current: str | None = None
    try:
        while True:
            try:
                current = current_revision(app.engine)
            except Exception:  # the database is not reachable yet: keep waiting
                current = None
            if current == head:
                console.print(f"database at {head}: ready")
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(2.0)
    finally:
        app.close()
    console.print(f"database at {current or '(empty)'}, not {head}, after {timeout:.0f} s")
    raise typer.Exit(code=1)
