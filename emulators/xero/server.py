"""Run the Xero emulator on loopback in a background thread (tests, the demo)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from connectors.xero.settings import XeroSettings
from emulators.serving import LoopbackServer
from emulators.xero.app import XeroEmulator

__all__ = ["XeroServer"]


class XeroServer(LoopbackServer):
    """``with XeroServer(emulator) as server: server.url`` — uvicorn on 127.0.0.1."""

    what = "the Xero emulator"

    def __init__(self, emulator: XeroEmulator, port: int = 0) -> None:
        super().__init__(port)
        self.emulator = emulator
        emulator.base_url = self.url
        self._serve(emulator.app())

    def settings_values(self) -> dict[str, str]:
        """The ``[xero]`` settings that point forwardflow at this emulator."""
        identity = self.emulator.identity
        return {
            "client_id": identity.client_id,
            "client_secret": identity.client_secret,
            "webhook_key": self.emulator.webhook_key,
            "login_url": self.url,
            "identity_url": self.url,
            "api_url": self.url,
        }

    def settings(self, **overrides: Any) -> XeroSettings:
        """A ``XeroSettings`` pointed at this emulator (the hosts only are changed)."""
        values: dict[str, Any] = {**self.settings_values(), **overrides}
        for secret in ("client_secret", "webhook_key"):
            values[secret] = SecretStr(str(values[secret]))
        return XeroSettings(**values)

    def _stopped(self) -> None:
        self.emulator.stop_webhooks()
