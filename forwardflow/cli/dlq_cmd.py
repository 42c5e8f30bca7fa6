"""``forwardflow dlq``: read, replay and purge dead letters."""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.deadletter import (
    DeadLetter,
    list_dead_letters,
    purge_dead_letters,
    replay,
)
from forwardflow.broker.runtime import BrokerConnection
from forwardflow.cli.context import console, err_console
from forwardflow.cli.dispatch import with_broker

__all__ = ["dlq_app"]

dlq_app = typer.Typer(help="Read, replay and purge dead letters.", no_args_is_help=True)
T = TypeVar("T")


def _summary(letter: DeadLetter) -> dict[str, object]:
    return {
        "id": letter.id,
        "consumer": letter.consumer,
        "subject": letter.subject,
        "event_id": letter.headers.get("event_id"),
        "delivered": letter.delivered,
        "reason": letter.reason,
    }


def _find(letters: list[DeadLetter], letter_id: int) -> DeadLetter:
    for letter in letters:
        if letter.id == letter_id:
            return letter
    err_console.print(f"[bold red]no dead letter {letter_id}[/] (see `forwardflow dlq list`)")
    raise typer.Exit(code=1)


@dlq_app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List dead letters: id, consumer, event id, deliveries and the reason."""
    letters = with_broker(ctx, lambda c, a: list_dead_letters(c.broker, a.topology))
    if as_json:
        console.print_json(json.dumps([_summary(letter) for letter in letters]))
        return
    if not letters:
        console.print("no dead letters")
        return
    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("id", "consumer", "event id", "deliveries", "reason"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            str(letter.id),
            letter.consumer,
            letter.headers.get("event_id", ""),
            str(letter.delivered),
            letter.reason,
        )
    console.print(table)


@dlq_app.command("show")
def show_command(
    ctx: typer.Context,
    letter_id: Annotated[
        int, typer.Argument(metavar="ID", help="The dead letter's id (from `dlq list`).")
    ],
) -> None:
    """Show one dead letter in full: reason, original subject and headers, body."""
    letter = _find(
        with_broker(ctx, lambda c, a: list_dead_letters(c.broker, a.topology)), letter_id
    )
    console.print_json(json.dumps({**_summary(letter), "headers": letter.headers}))
    try:
        console.print_json(letter.body.decode())
    except (UnicodeDecodeError, ValueError):
        console.print(f"body ({len(letter.body)} bytes, not JSON): {letter.body[:500]!r}")


@dlq_app.command("replay")
def replay_command(
    ctx: typer.Context,
    letter_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="The dead letter to replay.")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
) -> None:
    """Publish dead letters to their subjects again (after the cause is fixed)."""
    if (letter_id is None) == (not replay_all):
        err_console.print("[bold red]give an ID or --all[/]")
        raise typer.Exit(code=2)

    async def work(connection: BrokerConnection, app: Forwardflow) -> int:
        letters = await list_dead_letters(connection.broker, app.topology)
        chosen = letters if replay_all else [_find(letters, letter_id or 0)]
        for letter in chosen:
            await replay(connection.broker, app.topology, letter)
        return len(chosen)

    console.print(f"replayed {with_broker(ctx, work)} dead letter(s)")


@dlq_app.command("purge")
def purge_command(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every dead letter for good."""
    if not yes and not typer.confirm("Delete every dead letter for good?"):
        raise typer.Exit(code=1)
    purged = with_broker(ctx, lambda c, a: purge_dead_letters(c.broker, a.topology))
    console.print(f"purged {purged} dead letter(s)")
