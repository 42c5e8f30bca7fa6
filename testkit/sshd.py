"""A real OpenSSH sshd on loopback with its own keys: the buyer's SFTP server in tests."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from forwardflow.net import free_port, greets

__all__ = ["LoopbackSshd"]

_READY_TIMEOUT_S = 10.0


def _keygen(path: Path) -> None:
    ssh_keygen = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
    subprocess.run(
        [ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )


@dataclass
class LoopbackSshd:
    """``sshd -D`` in ``root`` with a fresh host key and one authorized client key.

    ``client_key`` is the private key a test logs in with as the current user;
    ``host_public_key`` is what a client pins. SFTP is served by internal-sftp.
    """

    root: Path
    sshd: Path = Path("/usr/sbin/sshd")
    port: int = field(default=0)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def host_key(self) -> Path:
        """The server's private host key."""
        return self.root / "host_ed25519"

    @property
    def host_public_key(self) -> str:
        """The host key line (``ssh-ed25519 AAAA… comment``) a client pins."""
        return (self.root / "host_ed25519.pub").read_text().strip()

    @property
    def client_key(self) -> Path:
        """The private key authorised to log in."""
        return self.root / "client_ed25519"

    @property
    def log_file(self) -> Path:
        """sshd's log (``-E``)."""
        return self.root / "sshd.log"

    @property
    def home(self) -> Path:
        """Where SFTP sessions start: relative remote paths resolve here."""
        return self.root / "sftp-home"

    @property
    def pin(self) -> str:
        """The known_hosts line a client pins this server with."""
        return f"[127.0.0.1]:{self.port} {self.host_public_key}"

    @property
    def pid(self) -> int | None:
        """The listening sshd's pid."""
        return self._process.pid if self._process else None

    @property
    def user(self) -> str:
        """The account tests log in as (whoever runs them)."""
        return pwd.getpwuid(os.getuid()).pw_name

    def start(self) -> Self:
        """Write keys and config, start sshd and wait for its SSH banner."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege-separation dir
        _keygen(self.host_key)
        _keygen(self.client_key)
        authorized = self.root / "authorized_keys"
        authorized.write_text((self.root / "client_ed25519.pub").read_text())
        authorized.chmod(0o600)
        self.port = self.port or free_port()
        config = self.root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    f"Subsystem sftp internal-sftp -d {self.home}",
                    "",
                ]
            )
        )
        self._process = subprocess.Popen(
            [str(self.sshd), "-D", "-f", str(config), "-E", str(self.log_file)],
            stdin=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self.log_file.read_text() if self.log_file.exists() else ""
                raise RuntimeError(f"sshd exited with {self._process.returncode}: {log}")
            if greets(self.port, b"SSH-2.0"):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not answer on port {self.port}")

    def kill_sessions(self) -> None:
        """Kill every per-connection sshd child (a dropped link), keep the listener."""
        if self._process is None:
            return
        children = Path(f"/proc/{self._process.pid}/task/{self._process.pid}/children")
        for pid in children.read_text().split() if children.exists() else []:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                continue

    def stop(self) -> None:
        """Stop the listener and wait for it."""
        if self._process is None:
            return
        self.kill_sessions()
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
