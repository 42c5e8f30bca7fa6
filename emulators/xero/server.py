"""Run the Xero emulator on loopback in a background thread (tests, the demo)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn
from pydantic import SecretStr

from connectors.xero.settings import XeroSettings
from emulators.xero.app import XeroEmulator

__all__ = ["XeroServer"]


class XeroServer:
    """``with XeroServer(emulator) as server: server.url`` — uvicorn on 127.0.0.1."""

    def __init__(self, emulator: XeroEmulator, port: int = 0) -> None:
        self.emulator = emulator
        self._socket = socket.create_server(("127.0.0.1", port))
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        emulator.base_url = self.url
        config = uvicorn.Config(emulator.app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

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

    def start(self) -> Self:
        """Serve, and wait until requests are answered."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Xero emulator did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.emulator.stop_webhooks()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
