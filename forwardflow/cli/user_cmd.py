"""``forwardflow user``: the console's local users (argon2-hashed passwords, one role each)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from forwardflow.bootstrap import Forwardflow
from forwardflow.cli.context import console
from forwardflow.cli.dispatch import query
from forwardflow.console.store import Role, add_user

__all__ = ["user_app"]

user_app = typer.Typer(help="The console's users and their roles.", no_args_is_help=True)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    role: Annotated[Role, typer.Option(help="controller, viewer or operator.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a console user (or set an existing one's role and password)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    def work(app: Forwardflow) -> None:
        add_user(app.engine, email, role, password)

    query(ctx, work)
    console.print(f"user [bold]{email.strip().lower()}[/] is a {role.value}")
