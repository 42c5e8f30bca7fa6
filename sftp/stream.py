"""The first upload of a new sale file, made while the ciphertext is still being written.

Building, encrypting and uploading then overlap: a thread connects to the buyer at once
and sends the encrypted bytes to the temporary name as the encryptor writes them. The
file is published (renamed to its final name) only after the delivery's ``prepare``
finished — rows counted, totals tied out, hashes taken — and the bytes sent hash to the
same value. Anything short of that leaves nothing at the final name; the delivery then
falls back to the ordinary upload of the finished file, with its retries and resume.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import paramiko

from debtsale.agreement import DeliveryTerms, UploadStrategy
from sftp.connection import SftpEndpoint, fsync, open_sftp, server_limits
from sftp.names import partial_name
from sftp.salefile import WrittenFile
from sftp.upload import (
    Placed,
    RemoteConflictError,
    place_file,
    receipt_line,
    remote_path,
    remote_size,
)

__all__ = ["StreamedUpload", "streams"]

_READ = 1 << 20
_POLL_S = 0.005


class _SteppedAsideError(Exception):
    """The build failed or the final name is taken: the stream steps aside."""


def streams(terms: DeliveryTerms) -> bool:
    """True when the buyer's habits allow sending before the file is finished.

    Only to a temporary name (a ``direct`` upload would show a growing file under the
    final name) and only with the manifest last (it holds the finished file's hash).
    """
    return terms.strategy is UploadStrategy.TEMP_RENAME and not terms.manifest_first


class StreamedUpload:
    """Follow the growing ciphertext and send it; publish once ``finish`` hands the files."""

    def __init__(
        self,
        terms: DeliveryTerms,
        endpoint: SftpEndpoint,
        ciphertext: Path,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._terms = terms
        self._endpoint = endpoint
        self._ciphertext = ciphertext
        self._progress = progress
        self._finished = threading.Event()
        self._stopped = threading.Event()
        self._files: tuple[WrittenFile, Sequence[WrittenFile]] | None = None
        self.placed: list[dict[str, Any]] = []
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="sale-file-stream", daemon=True)

    def start(self) -> None:
        """Connect and begin sending as bytes appear."""
        self._thread.start()

    def finish(self, ciphertext: WrittenFile, rest: Sequence[WrittenFile]) -> bool:
        """The files are complete and checked: publish the ciphertext, then ``rest`` in order
        (sidecar, companions, manifest last); True if all were placed."""
        self._files = (ciphertext, rest)
        self._finished.set()
        self._thread.join()
        return self.error is None and len(self.placed) == 1 + len(rest)

    def stop(self) -> None:
        """The build failed: remove what was sent, publish nothing."""
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            with open_sftp(self._endpoint) as client:
                self._send(client)
        except _SteppedAsideError:
            pass
        except Exception as error:  # reported to the delivery, which falls back
            self.error = error

    def _send(self, client: paramiko.SFTPClient) -> None:
        directory = self._terms.directory
        final = remote_path(directory, self._ciphertext.name)
        if remote_size(client, final) is not None:
            raise _SteppedAsideError  # already there or a conflict: the ordinary upload decides
        target = partial_name(final)
        digest, sent = hashlib.sha256(), 0
        with self._open_local() as source, client.open(target, "wb") as remote:
            remote.MAX_REQUEST_SIZE = server_limits(client)
            remote.set_pipelined(True)
            while not self._stopped.is_set():
                complete = self._finished.is_set()  # before reading: then empty means the end
                chunk = source.read(_READ)
                if chunk:
                    remote.write(chunk)
                    digest.update(chunk)
                    sent += len(chunk)
                    if self._progress:
                        self._progress(len(chunk))
                elif complete:
                    break
                else:
                    self._finished.wait(_POLL_S)
            remote.flush()
            fsync(client, remote)
        if self._stopped.is_set() or self._files is None:
            client.remove(target)
            raise _SteppedAsideError
        ciphertext, rest = self._files
        if sent != ciphertext.size or digest.hexdigest() != ciphertext.sha256:
            raise OSError(f"{target}: the bytes sent do not hash to the finished file's")
        if remote_size(client, target) != ciphertext.size:
            raise OSError(f"{target} does not hold {ciphertext.size} bytes after upload")
        if remote_size(client, final) is not None:
            raise RemoteConflictError(f"{final} appeared on the buyer's server meanwhile")
        client.posix_rename(target, final)
        self.placed.append(receipt_line(final, ciphertext, Placed.UPLOADED))
        for local in rest:
            placed_at, how = place_file(
                client, local, directory, local.path.name, self._terms.strategy
            )
            self.placed.append(receipt_line(placed_at, local, how))

    def _open_local(self) -> IO[bytes]:
        """The ciphertext as the encryptor writes it (``NAME.partial``, renamed when done)."""
        partial = self._ciphertext.with_name(self._ciphertext.name + ".partial")
        while not self._stopped.is_set():
            for path in (partial, self._ciphertext):
                try:
                    return path.open("rb")
                except FileNotFoundError:
                    continue
            time.sleep(_POLL_S)
        raise _SteppedAsideError
