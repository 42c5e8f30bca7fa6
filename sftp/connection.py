"""An SFTP session to a buyer: host key pinned, key authentication, GCM ciphers first.

Nothing is trusted on first use. The buyer's server must offer exactly the pinned key
(a known_hosts line or an OpenSSH ``SHA256:`` fingerprint); anything else is refused
before authentication, naming both fingerprints.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko
from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY

__all__ = [
    "BuyerAuthError",
    "HostKeyMismatchError",
    "SftpEndpoint",
    "fingerprint",
    "fsync",
    "open_sftp",
    "pinned_fingerprint",
    "server_limits",
]

_GCM = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
_FALLBACK_WRITE = 32 * 1024


class HostKeyMismatchError(paramiko.SSHException):
    """The server offered a host key other than the pinned one: possibly an impostor."""


class BuyerAuthError(paramiko.SSHException):
    """The buyer's server refused our key."""


@dataclass(frozen=True, slots=True)
class SftpEndpoint:
    """Where to connect and as whom."""

    host: str
    port: int
    username: str
    host_key: str  # known_hosts line or SHA256:… fingerprint
    client_key: Path | paramiko.PKey  # a key file, or the key itself (unsealed in memory)
    timeout: float = 30.0


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's form: ``SHA256:`` + unpadded base64 of the key blob's SHA-256."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def pinned_fingerprint(pin: str) -> str:
    """The SHA256 fingerprint a pin stands for (known_hosts line or fingerprint)."""
    pin = pin.strip()
    if pin.startswith("SHA256:"):
        return pin
    fields = pin.split()
    if len(fields) < 3:
        raise ValueError("host_key must be a known_hosts line (HOST TYPE BASE64) or SHA256:…")
    blob = base64.b64decode(fields[2])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _load_client_key(path: Path | paramiko.PKey) -> paramiko.PKey:
    if isinstance(path, paramiko.PKey):
        return path
    try:
        return paramiko.PKey.from_path(str(path))
    except (OSError, paramiko.SSHException) as error:
        raise BuyerAuthError(f"cannot read the client key {path}: {error}") from None


def _key_name(key: Path | paramiko.PKey) -> str:
    return key.name if isinstance(key, Path) else f"key {fingerprint(key)}"


@contextmanager
def open_sftp(endpoint: SftpEndpoint) -> Iterator[paramiko.SFTPClient]:
    """A fresh, verified, authenticated SFTP session; closed on exit."""
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=endpoint.timeout)
    transport = paramiko.Transport(sock)
    try:
        options = transport.get_security_options()
        ciphers = tuple(options.ciphers)
        options.ciphers = tuple(c for c in _GCM if c in ciphers) + tuple(
            c for c in ciphers if c not in _GCM
        )
        transport.start_client(timeout=endpoint.timeout)
        offered = fingerprint(transport.get_remote_server_key())
        expected = pinned_fingerprint(endpoint.host_key)
        if offered != expected:
            raise HostKeyMismatchError(
                f"host key of {endpoint.host}:{endpoint.port} does not match the pin: "
                f"expected {expected}, offered {offered}; nothing was sent"
            )
        try:
            transport.auth_publickey(endpoint.username, _load_client_key(endpoint.client_key))
        except paramiko.AuthenticationException as error:
            raise BuyerAuthError(
                f"{endpoint.host}:{endpoint.port} refused key authentication for "
                f"{endpoint.username!r} with {_key_name(endpoint.client_key)}: {error}"
            ) from None
        client = paramiko.SFTPClient.from_transport(transport)
        if client is None:
            raise paramiko.SSHException("the server refused the sftp subsystem")
        try:
            yield client
        finally:
            client.close()
    finally:
        transport.close()


def _extended(client: paramiko.SFTPClient, *args: object) -> tuple[int, paramiko.Message]:
    """Send an SFTP extension request: paramiko has no public call, its ``_request`` does it."""
    request: Callable[..., tuple[int, paramiko.Message]] = client._request  # type: ignore[attr-defined]
    return request(CMD_EXTENDED, *args)


def server_limits(client: paramiko.SFTPClient) -> int:
    """The largest write the server accepts (``limits@openssh.com``), else 32 KiB."""
    try:
        kind, message = _extended(client, "limits@openssh.com")
    except (OSError, paramiko.SSHException):
        return _FALLBACK_WRITE
    if kind != CMD_EXTENDED_REPLY:
        return _FALLBACK_WRITE
    _packet, _read, write = (message.get_int64() for _ in range(3))
    return int(write) or _FALLBACK_WRITE


def fsync(client: paramiko.SFTPClient, handle: paramiko.SFTPFile) -> bool:
    """Ask the server to flush the file to disk (``fsync@openssh.com``); False if unsupported."""
    try:
        _extended(client, "fsync@openssh.com", handle.handle)
    except (OSError, paramiko.SSHException):
        return False
    return True
