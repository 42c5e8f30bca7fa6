"""uvicorn with the read timeouts and connection cap it lacks (slow-header and slow-body clients).

uvicorn 0.3x–0.5x has ``timeout_keep_alive`` (an idle connection *after* a response)
and ``limit_concurrency`` (a 503 once a request head is complete), but no deadline for
reading a request: its H11 protocol arms no timer before the first response, and any
byte received cancels the keep-alive timer. A client sending a header byte a minute
holds a connection (and a file descriptor) forever. This subclass of uvicorn's own
``H11Protocol`` adds, per request:

- a header deadline from the first byte of a request (or the connection's opening),
- a body deadline from the end of the head,
- a connection cap: at the cap, the connection that has waited longest for its head is
  closed to make room (a flood of slow clients cannot lock out ``/healthz``).

Everything else — parsing, keep-alive, limits on the head's size (h11's
``max_incomplete_event_size``) — is uvicorn's and h11's own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ServerLimits", "guarded_config", "guarded_protocol"]

log = logging.getLogger("forwardflow.http.server")

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Deadlines (seconds) and caps for the HTTP listener."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    max_connections: int = 1000
    max_header_bytes: int = 16_384


def guarded_protocol(limits: ServerLimits) -> type[H11Protocol]:
    """uvicorn's H11 protocol with ``limits`` applied (pass as ``uvicorn.Config(http=…)``)."""

    class GuardedH11Protocol(H11Protocol):
        """H11Protocol with header/body deadlines and a connection cap."""

        _phase: str | None = None  # "head", "body" or None (nothing being read)
        _phase_began: float = 0.0
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                self._evict_slowest()
            self._enter("head")

        def _evict_slowest(self) -> None:
            waiting = [
                c
                for c in self.connections
                if isinstance(c, GuardedH11Protocol) and c is not self and c._phase == "head"
            ]
            if waiting:
                oldest = min(waiting, key=lambda c: c._phase_began)
                oldest._expire("head")
            else:  # every other connection is busy with a real request: refuse this one
                self.transport.close()

        def _enter(self, phase: str | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            self._phase = phase
            if phase is None:
                return
            self._phase_began = time.monotonic()
            seconds = limits.header_timeout if phase == "head" else limits.body_timeout
            self._deadline = self.loop.call_later(seconds, self._expire, phase)

        def _expire(self, phase: str) -> None:
            if self._phase != phase or self.transport.is_closing():
                return
            self._enter(None)
            log.info("closed a connection whose request %s was too slow", phase)
            if phase == "head" and self.conn.their_state is h11.IDLE:
                self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._phase is None and self.conn.their_state is h11.IDLE:
                self._enter("head")  # a new request on a kept-alive connection
            super().data_received(data)
            self._follow()

        def _follow(self) -> None:
            if self.transport.is_closing():
                self._enter(None)
                return
            state = self.conn.their_state
            if state is h11.SEND_BODY:
                if self._phase != "body":
                    self._enter("body")
            elif state is not h11.IDLE:  # DONE, MUST_CLOSE …: the request is read
                self._enter(None)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._follow()

        def connection_lost(self, exc: Exception | None) -> None:
            self._enter(None)
            super().connection_lost(exc)

    return GuardedH11Protocol


def guarded_config(app: Any, limits: ServerLimits) -> uvicorn.Config:
    """A uvicorn configuration serving ``app`` within ``limits`` (no lifespan, no signals)."""
    return uvicorn.Config(
        app,
        http=guarded_protocol(limits),
        log_level="warning",
        log_config=None,  # uvicorn's records go to forwardflow's handlers (rate-limited)
        lifespan="off",
        timeout_keep_alive=limits.keep_alive,  # type: ignore[arg-type]  # float works
        limit_concurrency=2 * limits.max_connections,  # the cap is ours; a margin for eviction
        h11_max_incomplete_event_size=limits.max_header_bytes,
        backlog=2048,  # the kernel's accept queue; the cap applies to accepted connections
    )
