"""What every CLI command shares: the console and settings loaded once, with clean errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import InterfaceError, OperationalError

from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.errors import UNREACHABLE
from forwardflow.config_view import mask_url
from forwardflow.settings import Settings, SettingsError, load_settings

__all__ = ["CliState", "connection_failure", "console", "err_console", "state"]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
_loaded: list[Settings] = []  # the settings this invocation loaded, to name hosts in errors


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
                _loaded[:] = [self._settings]
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


def connection_failure(error: BaseException) -> str | None:
    """One line for a database or broker that cannot be reached, naming where; else None.

    A refused connection is an operator's problem (wrong host, server down), not a bug:
    a traceback of several hundred lines hides the one fact that matters.
    """
    settings = _loaded[0] if _loaded else None
    if isinstance(error, OperationalError | InterfaceError):
        lines = str(error.orig or error).strip().splitlines()
        where = mask_url(settings.database_url) if settings else "the database"
        return f"database unusable ({where}): {lines[0] if lines else type(error).__name__}"
    if isinstance(error, UNREACHABLE):
        where = (settings.broker.url or "embedded") if settings else "the broker"
        return f"broker unreachable ({mask_url(where)}): {error}"
    return None
