"""Put one file on the buyer's server: pipelined writes, verified size, atomic publish.

Idempotent by content: an identical file already at the final name counts as
delivered; a different one is never overwritten. A partial temporary file from an
interrupted attempt is resumed, not restarted.
"""

from __future__ import annotations

import hashlib
import stat as stat_mode
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import paramiko

from debtsale.agreement import UploadStrategy
from sftp.connection import fsync, server_limits
from sftp.names import partial_name, safe_name
from sftp.salefile import WrittenFile

__all__ = [
    "Placed",
    "RemoteConflictError",
    "place_file",
    "receipt_line",
    "remote_path",
    "remote_sha256",
    "remote_size",
]

_READ = 1 << 20


class Placed(StrEnum):
    """What uploading a file did."""

    UPLOADED = "uploaded"
    RESUMED = "resumed"
    ALREADY_THERE = "already_there"  # an identical file was at the final name


def remote_path(directory: str, name: str) -> str:
    """Where ``name`` goes in the buyer's ``directory`` (a name that could escape is refused)."""
    return f"{directory}/{safe_name(name)}" if directory else safe_name(name)


def receipt_line(remote_path: str, local: WrittenFile, how: Placed) -> dict[str, Any]:
    """One placed file as the delivery receipt records it."""
    return {
        "remote_path": remote_path,
        "size": local.size,
        "sha256": local.sha256,
        "outcome": how.value,
    }


class RemoteConflictError(RuntimeError):
    """A different file already has the final name; it is never overwritten."""


def remote_size(client: paramiko.SFTPClient, path: str) -> int | None:
    """Size of a remote file, or None when there is none; a non-file there is a conflict."""
    try:
        attributes = client.stat(path)
    except FileNotFoundError:
        return None
    if attributes.st_mode is not None and not stat_mode.S_ISREG(attributes.st_mode):
        raise RemoteConflictError(f"{path} exists on the buyer's server and is not a file")
    return attributes.st_size or 0


def remote_sha256(client: paramiko.SFTPClient, path: str) -> str:
    """SHA-256 of a remote file, read back (OpenSSH offers no server-side hash)."""
    digest = hashlib.sha256()
    with client.open(path, "rb") as handle:
        handle.prefetch()
        while chunk := handle.read(_READ):
            digest.update(chunk)
    return digest.hexdigest()


def _local_prefix_sha256(local: WrittenFile, length: int) -> str:
    digest, left = hashlib.sha256(), length
    with local.path.open("rb") as source:
        while left and (chunk := source.read(min(_READ, left))):
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _resumable(client: paramiko.SFTPClient, local: WrittenFile, target: str) -> int:
    """Where to carry on writing ``target``: after its bytes if they begin ``local``, else 0.

    A temporary file holding the start of these very bytes (an interrupted attempt,
    even one cut off after the last byte) is resumed; one left by another ciphertext
    (the work folder was lost and the file encrypted anew) is overwritten.
    """
    held = remote_size(client, target) or 0
    if not 0 < held <= local.size:
        return 0
    return held if remote_sha256(client, target) == _local_prefix_sha256(local, held) else 0


def _write(
    client: paramiko.SFTPClient,
    local: WrittenFile,
    path: str,
    offset: int,
    progress: Callable[[int], None] | None,
) -> None:
    write_size = server_limits(client)
    with client.open(path, "r+b" if offset else "wb") as remote:
        remote.MAX_REQUEST_SIZE = write_size  # paramiko splits writes at this size
        remote.set_pipelined(True)
        remote.seek(offset)
        with local.path.open("rb") as source:
            source.seek(offset)
            while chunk := source.read(_READ):
                remote.write(chunk)
                if progress:
                    progress(len(chunk))
        remote.flush()
        fsync(client, remote)
    written = remote_size(client, path)
    if written != local.size:
        raise OSError(f"{path} holds {written} bytes after upload, expected {local.size}")


def place_file(
    client: paramiko.SFTPClient,
    local: WrittenFile,
    directory: str,
    name: str,
    strategy: UploadStrategy,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, Placed]:
    """Upload ``local`` as ``directory/name`` following the buyer's strategy."""
    final = remote_path(directory, name)
    held = remote_size(client, final)
    if held is not None:
        if held == local.size and remote_sha256(client, final) == local.sha256:
            return final, Placed.ALREADY_THERE
        if strategy is UploadStrategy.TEMP_RENAME or held >= local.size:
            raise RemoteConflictError(
                f"{final} already exists on the buyer's server with different content "
                f"({held} bytes); it was not overwritten — rename or remove it there first"
            )
    target = final if strategy is not UploadStrategy.TEMP_RENAME else partial_name(final)
    offset = _resumable(client, local, target)
    _write(client, local, target, offset, progress)
    if target != final:
        client.posix_rename(target, final)
    if strategy is UploadStrategy.DIRECT_PLUS_DONE_FILE:
        with client.open(f"{final}.done", "wb"):
            pass
    return final, Placed.RESUMED if offset else Placed.UPLOADED
