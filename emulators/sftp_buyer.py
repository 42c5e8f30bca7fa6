"""A loopback-only SFTP buyer on paramiko's server side, for the demo on machines without sshd.

It serves one folder to one authorised key, listens on 127.0.0.1 only, and confines
every path to its folder. It exists so ``make demo`` delivers over real SFTP (key
exchange, host key pinning, authentication, the same client code) anywhere; real
buyers run OpenSSH, which the tests use.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

__all__ = ["LoopbackSftp"]


class _Handle(paramiko.SFTPHandle):
    """An open file; paramiko's base class reads and writes through these attributes."""

    readfile: IO[Any]
    writefile: IO[Any]

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as error:
            return paramiko.SFTPServer.convert_errno(error.errno or 0)


class _Folder(paramiko.SFTPServerInterface):
    """The buyer's folder: paths resolve inside it, never outside."""

    root: Path  # set by LoopbackSftp before serving

    def _real(self, path: str) -> Path:
        candidate = (self.root / path.lstrip("/")).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise PermissionError(path)
        return candidate

    def _guard(self, work: Any, *args: Any) -> Any:
        try:
            return work(*args)
        except PermissionError:
            return SFTP_PERMISSION_DENIED
        except FileNotFoundError:
            return SFTP_NO_SUCH_FILE
        except OSError as error:
            return paramiko.SFTPServer.convert_errno(error.errno) if error.errno else SFTP_FAILURE

    def _do(self, action: Any) -> int:
        """Run an action that returns nothing; SFTP_OK or the error's status."""

        def run() -> int:
            action()
            return SFTP_OK

        return int(self._guard(run))

    def canonicalize(self, path: str) -> str:
        try:
            relative = self._real(path).relative_to(self.root)
        except PermissionError:
            return "/"
        return "/" if str(relative) == "." else f"/{relative}"

    def list_folder(self, path: str) -> Any:
        def listing() -> list[paramiko.SFTPAttributes]:
            found = []
            for entry in sorted(self._real(path).iterdir()):
                attributes = paramiko.SFTPAttributes.from_stat(entry.stat())
                attributes.filename = entry.name
                found.append(attributes)
            return found

        return self._guard(listing)

    def stat(self, path: str) -> Any:
        return self._guard(lambda: paramiko.SFTPAttributes.from_stat(self._real(path).stat()))

    def lstat(self, path: str) -> Any:
        return self._guard(lambda: paramiko.SFTPAttributes.from_stat(self._real(path).lstat()))

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> Any:
        def opened() -> _Handle:
            descriptor = os.open(self._real(path), flags, 0o644)
            mode = "r+b" if flags & os.O_RDWR else ("wb" if flags & os.O_WRONLY else "rb")
            if flags & os.O_WRONLY and flags & os.O_APPEND:
                mode = "ab"
            handle = _Handle(flags)
            stream = os.fdopen(descriptor, mode)
            handle.readfile = stream
            handle.writefile = stream
            return handle

        return self._guard(opened)

    def remove(self, path: str) -> int:
        return self._do(lambda: self._real(path).unlink())

    def rename(self, oldpath: str, newpath: str) -> int:
        if self._guard(lambda: self._real(newpath).exists()) is True:
            return SFTP_FAILURE  # plain SFTP rename never replaces, as on OpenSSH
        return self._do(lambda: self._real(oldpath).rename(self._real(newpath)))

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        return self._do(lambda: self._real(oldpath).replace(self._real(newpath)))

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return self._do(lambda: self._real(path).mkdir())

    def rmdir(self, path: str) -> int:
        return self._do(lambda: self._real(path).rmdir())

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return SFTP_OK


class _Gate(paramiko.ServerInterface):
    """Public-key authentication for one user and one key; sessions for SFTP only."""

    def __init__(self, username: str, key: paramiko.PKey) -> None:
        self._username = username
        self._key = key

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == self._username and key.asbytes() == self._key.asbytes():
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return OPEN_SUCCEEDED if kind == "session" else OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


def _public_key(line: str) -> paramiko.PKey:
    kind, blob = line.split()[:2]
    return paramiko.PKey.from_type_string(kind, base64.b64decode(blob))


class LoopbackSftp:
    """Serve ``root`` over SFTP on 127.0.0.1 to ``username`` holding ``authorized_key``."""

    def __init__(self, root: Path, username: str, authorized_key: str, port: int = 0) -> None:
        self.root = root.resolve()
        self.username = username
        self._key = _public_key(authorized_key)
        self._host_key = paramiko.Ed25519Key.from_private_key_file(str(self._ensure_host_key()))
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ff-sftp", daemon=True)
        self._transports: list[paramiko.Transport] = []

    def _ensure_host_key(self) -> Path:
        from sftp.keys import ensure_ssh_key

        path = self.root.parent / f".{self.root.name}-host_ed25519"
        ensure_ssh_key(path, "forwardflow-loopback-sftp")
        return path

    @property
    def pin(self) -> str:
        """The known_hosts line a client pins this server with."""
        return f"[127.0.0.1]:{self.port} {self._host_key.get_name()} {self._host_key.get_base64()}"

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            transport = paramiko.Transport(connection)
            transport.add_server_key(self._host_key)
            folder = type("_BuyerFolder", (_Folder,), {"root": self.root})
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, folder)
            with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
                transport.start_server(server=_Gate(self.username, self._key))
                self._transports.append(transport)

    def start(self) -> Self:
        """Begin accepting connections (in a daemon thread)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every session."""
        self._stop.set()
        self._listener.close()
        for transport in self._transports:
            transport.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
