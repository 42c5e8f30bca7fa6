"""``forwardflow demo --serve``: after the story, keep the service's HTTP face and console up.

The demo's store stays as the story left it (a sold portfolio, a put-back, a remittance);
a controller account is made with a fresh password, printed once.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from forwardflow.bootstrap import bootstrap
from forwardflow.cli.context import console
from forwardflow.console.store import Role as UserRole
from forwardflow.console.store import add_user
from forwardflow.logs import configure_logging
from forwardflow.service import Role, serve
from forwardflow.settings import HttpSettings, load_settings

__all__ = ["DEMO_USER", "serve_demo"]

DEMO_USER = "controller@demo.invalid"


def serve_demo(workdir: Path, port: int) -> None:
    """Serve the demo's store (HTTP role: console, health, webhooks) until Ctrl-C."""
    settings = load_settings(data_dir=workdir / "data", http=HttpSettings(port=port))
    app = bootstrap(settings)
    try:
        password = secrets.token_urlsafe(12)
        add_user(app.engine, DEMO_USER, UserRole.CONTROLLER, password)
        configure_logging(settings.log.level, settings.log.format)
        console.print(
            f"console: [bold]http://{settings.http.host}:{port}/[/]  sign in as "
            f"[bold]{DEMO_USER}[/] with password [bold]{password}[/]  (Ctrl-C stops)",
            highlight=False,
        )
        asyncio.run(serve(app, Role.HTTP))
    finally:
        app.close()
