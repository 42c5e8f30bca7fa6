"""An emulator's ASGI app served on loopback from a background thread (tests, the demo)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """uvicorn on 127.0.0.1 in a daemon thread: ``with Server(...) as server: server.url``.

    A subclass learns its port and URL first (``self.port``, ``self.url``: the app may need
    them), then hands its app to ``_serve``; ``_stopped`` runs after the server stopped.
    """

    what = "the emulator"

    def __init__(self, port: int = 0) -> None:
        self._socket = socket.create_server(("127.0.0.1", port))
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _serve(self, app: Any) -> None:
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def _stopped(self) -> None:
        """What to stop besides the server (webhook senders …)."""

    def start(self) -> Self:
        """Serve, and wait until requests are answered."""
        if self._server is None or self._thread is None:
            raise RuntimeError(f"{self.what} has no app to serve")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.what} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._stopped()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
