"""The controller's web console: signed-in pages over the same reports and commands as the CLI.

``console_app`` builds the ASGI app for a composed ``Forwardflow``; the service mounts it at
``/`` on its HTTP listener (``forwardflow.web``). Nothing is built at import time.
"""

from __future__ import annotations

from forwardflow.console.app import console_app

__all__ = ["console_app"]
