"""Run the emulator on loopback in a background thread (tests, the demo) or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from emulators.quickbooks.app import Emulator

__all__ = ["EmulatorServer"]


class EmulatorServer:
    """``with EmulatorServer(emulator) as server: server.url`` — uvicorn on 127.0.0.1."""

    def __init__(self, emulator: Emulator, port: int = 0) -> None:
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

    @property
    def api_url_v3(self) -> str:
        """What python-quickbooks' ``api_url_v3`` must be set to."""
        return f"{self.url}/v3"

    @property
    def discovery_url(self) -> str:
        """What intuit-oauth takes as its environment to find the emulator's endpoints."""
        return f"{self.url}/.well-known/openid_sandbox_configuration"

    def start(self) -> Self:
        """Serve, and wait until requests are answered."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the QuickBooks emulator did not start")
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
