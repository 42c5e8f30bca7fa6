"""Run the emulator on loopback in a background thread (tests, the demo)."""

from __future__ import annotations

from emulators.quickbooks.app import Emulator
from emulators.serving import LoopbackServer

__all__ = ["EmulatorServer"]


class EmulatorServer(LoopbackServer):
    """``with EmulatorServer(emulator) as server: server.url`` — uvicorn on 127.0.0.1."""

    what = "the QuickBooks emulator"

    def __init__(self, emulator: Emulator, port: int = 0) -> None:
        super().__init__(port)
        self.emulator = emulator
        emulator.base_url = self.url
        self._serve(emulator.app())

    @property
    def api_url_v3(self) -> str:
        """What python-quickbooks' ``api_url_v3`` must be set to."""
        return f"{self.url}/v3"

    @property
    def discovery_url(self) -> str:
        """What intuit-oauth takes as its environment to find the emulator's endpoints."""
        return f"{self.url}/.well-known/openid_sandbox_configuration"

    def _stopped(self) -> None:
        self.emulator.stop_webhooks()
