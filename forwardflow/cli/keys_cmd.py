"""``forwardflow keys``: secret key files at rest, sealed with the installation's key."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from forwardflow.cli.context import console, state
from forwardflow.keystore import seal_file

__all__ = ["keys_app"]

keys_app = typer.Typer(help="Secret key files at rest.", no_args_is_help=True)


class KeyUse(StrEnum):
    """What a key file is for (a sealed file opens only for that use)."""

    SELLER = "seller"
    SSH = "ssh"


@keys_app.command("seal")
def keys_seal(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The key file.")],
    use: Annotated[KeyUse, typer.Option("--for", help="seller (OpenPGP) or ssh.")],
) -> None:
    """Encrypt a plain key file in place with ``secret_key`` (keys forwardflow makes are
    sealed already; this is for a key you configured as delivery.seller_key/ssh_key)."""
    sealed = seal_file(state(ctx).settings(), path, use.value)
    word = "sealed" if sealed else "already sealed"
    console.print(f"{escape(str(path))}: {word} (mode 0600)", highlight=False)
