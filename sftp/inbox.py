"""A buyer's inbound folder over SFTP: list what waits, read it safely, answer, move aside.

What the folder may hold is hostile until proven otherwise: only regular files directly
in it are read (``lstat`` before opening, ``fstat`` after, the same size), within a size
limit, decrypted when ``.pgp``/``.gpg``; answers and moved files take a name nobody holds
(SFTP's plain rename fails rather than overwrite). An upload still in progress under a
temporary name is left for the next round.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import paramiko
from pysequoia import Tsk, decrypt

from sftp.connection import SftpEndpoint, open_sftp
from sftp.names import PARTIAL_SUFFIX, partial_name

__all__ = [
    "CONNECTION_ERRORS",
    "MAX_FILE_BYTES",
    "BuyerInbox",
    "EntryRefusedError",
    "InboxEntry",
    "open_inbox",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
PROCESSED = "processed"
_TEMPORARY = (PARTIAL_SUFFIX, ".tmp", ".filepart")
_STALE_S = 15 * 60

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, paramiko.SSHException)
"""The link is gone: stop this run (nothing half-answered), try again next round."""


class EntryRefusedError(Exception):
    """An entry answered as a whole with one rule: moved aside, never applied."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One name in the inbound folder."""

    name: str
    modified: float


class BuyerInbox:
    """The inbound folder of one buyer, and the folder answers go to."""

    def __init__(self, client: paramiko.SFTPClient, inbound: str, outbound: str) -> None:
        self._client = client
        self.inbound = inbound
        self.outbound = outbound

    def prepare(self) -> None:
        """Make the processed and answer folders if they are missing."""
        for folder in (f"{self.inbound}/{PROCESSED}", self.outbound):
            if not self._exists(folder):
                self._client.mkdir(folder)

    def waiting(self, now: float | None = None, skip: Collection[str] = ()) -> list[InboxEntry]:
        """Entries to handle, by name: not ours, not ``skip``, not an upload in progress."""
        now = time.time() if now is None else now
        found = []
        for attrs in sorted(self._client.listdir_attr(self.inbound), key=lambda e: e.filename):
            name = attrs.filename
            if name in (".", "..", PROCESSED) or name in skip:
                continue
            temporary = name.startswith(".") or name.lower().endswith(_TEMPORARY)
            if temporary and now - (attrs.st_mtime or 0) < _STALE_S:
                continue
            found.append(InboxEntry(name, float(attrs.st_mtime or 0)))
        return found

    def read(self, name: str, seller_secret: bytes | None) -> bytes:
        """A regular file's bytes (decrypted when ``.pgp``/``.gpg``), within the size limit."""
        path = f"{self.inbound}/{name}"
        before = self._client.lstat(path)
        if not stat.S_ISREG(before.st_mode or 0):
            raise EntryRefusedError(
                "inbound.not_a_file", "only regular files are read (not links or folders)"
            )
        if (before.st_size or 0) > MAX_FILE_BYTES:
            raise EntryRefusedError("inbound.size", f"the file is over {MAX_FILE_BYTES:,} bytes")
        with self._client.open(path, "rb") as handle:
            opened = handle.stat()
            if not stat.S_ISREG(opened.st_mode or 0) or opened.st_size != before.st_size:
                raise EntryRefusedError(
                    "inbound.changed", "the file changed while it was read; send it again"
                )
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise EntryRefusedError("inbound.size", f"the file is over {MAX_FILE_BYTES:,} bytes")
        if path.lower().endswith((".pgp", ".gpg")):
            data = _decrypted(data, seller_secret)
        return data

    def answer(self, name: str, tag: str, data: bytes) -> str:
        """Write an answer (``name.result.csv``) under a name nobody holds; its path."""
        target = self._free_name(self.outbound, name, tag, ".result.csv")
        partial = partial_name(target)
        with self._client.open(partial, "wb") as handle:
            handle.write(data)
        self._client.rename(partial, target)  # SSH_FXP_RENAME: fails rather than overwrite
        return target

    def move_aside(self, name: str, tag: str) -> str:
        """Move an entry into ``processed/`` (a link or folder itself, never its target)."""
        target = self._free_name(f"{self.inbound}/{PROCESSED}", name, tag)
        self._client.rename(f"{self.inbound}/{name}", target)
        return target

    def _exists(self, path: str) -> bool:
        try:
            self._client.lstat(path)
        except FileNotFoundError:
            return False
        return True

    def _free_name(self, folder: str, name: str, tag: str, suffix: str = "") -> str:
        """``folder/name+suffix``, or with the tag (and a counter) before the suffix if taken."""
        candidates = [f"{name}{suffix}", f"{name}.{tag}{suffix}"] + [
            f"{name}.{tag}-{n}{suffix}" for n in range(2, 100)
        ]
        for candidate in candidates:
            if not self._exists(f"{folder}/{candidate}"):
                return f"{folder}/{candidate}"
        raise OSError(f"no free name for {name} in {folder}")


def _decrypted(data: bytes, seller_secret: bytes | None) -> bytes:
    if seller_secret is None:
        raise EntryRefusedError("inbound.decrypt", "no seller key to decrypt with")
    try:
        seller = Tsk.from_bytes(seller_secret)
        return decrypt(data, decryptor=seller.decryptor()).bytes or b""
    except Exception:  # pysequoia raises plain exceptions for bad input
        raise EntryRefusedError(
            "inbound.decrypt", "the file does not decrypt with our key"
        ) from None


@contextmanager
def open_inbox(endpoint: SftpEndpoint, inbound: str, outbound: str) -> Iterator[BuyerInbox]:
    """Connect to the buyer's server and hand over its inbox, folders made."""
    with open_sftp(endpoint) as client:
        inbox = BuyerInbox(client, inbound, outbound)
        inbox.prepare()
        yield inbox
