"""``forwardflow asyncapi``: the message contract as a document, and its staleness check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forwardflow.broker.asyncapi import asyncapi_yaml
from forwardflow.cli.context import console, err_console

__all__ = ["asyncapi"]


def asyncapi(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where the document lives.")
    ] = Path("docs/asyncapi.yaml"),
    check: Annotated[
        bool, typer.Option("--check", help="Fail when the committed document is stale.")
    ] = False,
) -> None:
    """Write the AsyncAPI document of forwardflow's messages (or check it is current)."""
    text = asyncapi_yaml()
    if check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            err_console.print(
                f"[bold red]{output} is stale:[/] run `forwardflow asyncapi` and commit it"
            )
            raise typer.Exit(code=1)
        console.print(f"{output} is current")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")
