"""What every CLI command shares: the console and settings loaded once, with clean errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.settings import Settings, SettingsError, load_settings

__all__ = ["CliState", "console", "err_console", "state"]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    """Options given before the command (``forwardflow --config F COMMAND``)."""

    config_file: Path | None = None
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """The effective settings; an invalid one ends the command with exit code 2."""
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except SettingsError as error:
                err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
                raise typer.Exit(code=2) from None
        return self._settings

    def app(self) -> Forwardflow:
        """The composed application for these settings."""
        return bootstrap(self.settings())


def state(ctx: typer.Context) -> CliState:
    """The shared CLI state of this invocation."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
