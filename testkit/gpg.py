"""The buyer's gpg in tests: an isolated keyring and the commands a buyer would type."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BuyerGpg"]


@dataclass(frozen=True)
class BuyerGpg:
    """gpg with its own home directory, so tests never touch a real keyring."""

    home: Path
    binary: Path = Path("/usr/bin/gpg")

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run gpg in batch mode with this home; raise with gpg's words on failure."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        result = subprocess.run(
            [
                str(self.binary),
                "--homedir",
                str(self.home),
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                *args,
            ],
            input=stdin,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {result.stderr.decode()}")
        return result

    def generate_key(self, uid: str) -> str:
        """Create an unprotected RSA key pair for ``uid``; return its fingerprint."""
        self.run("--quick-generate-key", uid, "rsa3072", "sign,encr", "never")
        listing = self.run("--with-colons", "--list-keys", uid).stdout.decode()
        return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))

    def export_public(self, fingerprint: str, path: Path) -> Path:
        """Write the armored public key (what the buyer gives the seller) to ``path``."""
        path.write_bytes(self.run("--armor", "--export", fingerprint).stdout)
        return path

    def import_key(self, armored: bytes) -> None:
        """Import a public or secret key as a buyer would (``gpg --import``)."""
        self.run("--import", stdin=armored)

    def decrypt(self, path: Path) -> tuple[bytes, str]:
        """``gpg --decrypt`` the file; return the plaintext and gpg's status lines."""
        result = self.run("--status-fd", "2", "--decrypt", str(path))
        return result.stdout, result.stderr.decode("utf-8", errors="replace")
