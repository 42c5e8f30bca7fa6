"""Loopback helpers for servers forwardflow starts: a free port, and "is it answering?"."""

from __future__ import annotations

import socket

__all__ = ["free_port", "greets"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def greets(port: int, greeting: bytes, timeout: float = 0.5) -> bool:
    """True when a server on 127.0.0.1:``port`` opens with ``greeting`` (e.g. ``b"INFO"``)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            return conn.recv(len(greeting)) == greeting
    except OSError:
        return False
