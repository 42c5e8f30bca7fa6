"""Finding the real services tests need; absent means skip locally and fail under CI=true."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlparse

__all__ = [
    "EXTERNAL_NATS_URL_ENV",
    "POSTGRES_URL_ENV",
    "ServiceUnavailableError",
    "chromium_binary",
    "external_nats_url",
    "gpg_binary",
    "in_ci",
    "postgres_url",
    "promtool_binary",
    "require",
    "sshd_binary",
]

POSTGRES_URL_ENV = "FORWARDFLOW_TEST_POSTGRES_URL"
EXTERNAL_NATS_URL_ENV = "FORWARDFLOW_TEST_NATS_URL"
_DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_DEFAULT_NATS = "nats://127.0.0.1:4222"

T = TypeVar("T")


class ServiceUnavailableError(Exception):
    """A service a test needs is not there; the message says which and how to get it."""


def in_ci() -> bool:
    """True under CI (``CI=true``), where a missing service is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _give_up(reason: str) -> NoReturn:
    import pytest  # only test runs reach here; pytest is a dev dependency

    if in_ci():
        pytest.fail(f"required service missing under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def require(find: Callable[[], T]) -> T:
    """Return what ``find`` found; when it raises ServiceUnavailableError skip, or fail under CI."""
    try:
        return find()
    except ServiceUnavailableError as missing:
        _give_up(str(missing))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def postgres_url() -> str:
    """URL of the test PostgreSQL (``$FORWARDFLOW_TEST_POSTGRES_URL`` or 127.0.0.1:5432/test)."""
    url = os.environ.get(POSTGRES_URL_ENV, _DEFAULT_POSTGRES)
    parsed = urlparse(url.replace("+psycopg", ""))
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5432
    if not _port_open(host, port):
        raise ServiceUnavailableError(
            f"PostgreSQL not reachable at {host}:{port} (set {POSTGRES_URL_ENV})"
        )
    return url


def external_nats_url() -> str:
    """URL of an already running NATS server with JetStream (127.0.0.1:4222 by default)."""
    url = os.environ.get(EXTERNAL_NATS_URL_ENV, _DEFAULT_NATS)
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
    if not _port_open(host, port):
        raise ServiceUnavailableError(
            f"no NATS server at {host}:{port} (set {EXTERNAL_NATS_URL_ENV})"
        )
    return url


def _binary(name: str, *extra_dirs: str, package: str) -> Path:
    found = shutil.which(name)
    if found:
        return Path(found)
    for folder in extra_dirs:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ServiceUnavailableError(f"{name} not installed (Debian package {package})")


def sshd_binary() -> Path:
    """OpenSSH's sshd, which tests run on loopback as the buyer's server."""
    return _binary("sshd", "/usr/sbin", "/usr/local/sbin", package="openssh-server")


def gpg_binary() -> Path:
    """The gpg binary, which tests use as the buyer's decryptor."""
    return _binary("gpg", "/usr/bin", package="gnupg")


def promtool_binary() -> Path:
    """Prometheus's promtool, which checks the alert rules in deploy/prometheus."""
    return _binary("promtool", "/usr/bin", "/usr/local/bin", package="prometheus")


def chromium_binary() -> Path:
    """Debian's chromium, which the console's browser tests drive (never a downloaded one)."""
    return _binary("chromium", "/usr/bin", package="chromium")
