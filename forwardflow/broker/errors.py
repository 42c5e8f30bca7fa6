"""The broker client's errors that mean "no server to talk to", for plain-worded refusals."""

from __future__ import annotations

from nats.errors import NoServersError

__all__ = ["UNREACHABLE"]

UNREACHABLE: tuple[type[BaseException], ...] = (NoServersError, ConnectionRefusedError)
"""Errors raised when no broker server answers."""
