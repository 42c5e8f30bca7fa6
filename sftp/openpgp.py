"""OpenPGP for buyers: encrypt to the buyer's certificate and sign with the seller's key.

Buyers open files with gpg 2.2/2.4, which read v4 keys and SEIPD v1 (with MDC) only.
pysequoia encrypts with SEIPD v2 to any certificate advertising it (every key Sequoia
makes does), so a buyer's certificate is probed first and refused if its files would be
unreadable, unless the agreement says the buyer reads RFC 9580. Encryption runs in a
child process fed through a pipe (see ``sftp.encrypt_worker``), so the CSV is built and
encrypted at once and the plaintext never touches the disk. Output is randomised: a
file is encrypted once and its bytes reused on every retry.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from pysequoia import Cert, Profile, SignatureMode, Tsk, encrypt, packet, sign

import sftp

__all__ = [
    "EncryptionError",
    "UnreadableForBuyerError",
    "certificate_fingerprint",
    "detached_signature",
    "encrypted_bytes",
    "encrypting",
    "ensure_seller_key",
    "message_format",
    "new_seller_key",
    "refuse_unreadable",
    "seller_certificate",
    "seller_fingerprint",
]

_READABLE_BY_GPG = "SEIPD v1"
_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size for unprivileged processes


class EncryptionError(RuntimeError):
    """The encryptor failed; the message carries its reason."""


class UnreadableForBuyerError(ValueError):
    """Files encrypted to this certificate would not open with the buyer's gpg."""


def new_seller_key(user_id: str) -> bytes:
    """A new seller signing key (RFC 4880 profile, so gpg 2.2 reads it), armored."""
    return str(Tsk.generate(user_id, profile=Profile.RFC4880)).encode()


def ensure_seller_key(path: Path, user_id: str) -> str:
    """The seller's signing key at ``path`` (generated, mode 0600, if absent); its fingerprint."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Tsk.generate(user_id, profile=Profile.RFC4880)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(str(key))
    return seller_fingerprint(path)


def _tsk(key: Path | bytes) -> Tsk:
    return Tsk.from_bytes(key) if isinstance(key, bytes) else Tsk.from_file(str(key))


def seller_fingerprint(key: Path | bytes) -> str:
    """Fingerprint of the seller's key, from its file or its bytes (upper-case hex)."""
    return str(_tsk(key).extract_certificate().fingerprint).upper()


def seller_certificate(key: Path | bytes) -> str:
    """The seller's public certificate, armored: what a buyer imports to verify signatures."""
    return str(_tsk(key).extract_certificate())


def certificate_fingerprint(path: Path) -> str:
    """Fingerprint of a buyer's certificate file (upper-case hex)."""
    return str(Cert.from_file(str(path)).fingerprint).upper()


def detached_signature(data: bytes, seller: Path | bytes) -> bytes:
    """The seller's detached OpenPGP signature of ``data``, armored (``gpg --verify SIG FILE``)."""
    return bytes(sign(_tsk(seller).signer(), data, mode=SignatureMode.DETACHED, armor=True))


def encrypted_bytes(data: bytes, *, buyer: Path, seller: Path | bytes) -> bytes:
    """A small file (a bill of sale) encrypted to the buyer and signed, as binary OpenPGP.

    In memory and in this process: for the few kilobytes it is used on, a child process
    (``encrypting``) would cost more than the encryption.
    """
    return bytes(
        encrypt(
            recipients=[Cert.from_file(str(buyer))],
            bytes=data,
            signer=_tsk(seller).signer(),
            armor=False,
        )
    )


def message_format(certificate: Path) -> str:
    """How pysequoia encrypts to this certificate: ``SEIPD v1`` (what gpg reads) or ``v2``.

    Found by encrypting a probe and reading the encrypted-data packet's version byte,
    so it is exactly what a sale file would get.
    """
    probe = encrypt(recipients=[Cert.from_file(str(certificate))], bytes=b"probe", armor=False)
    for found in packet.PacketPile.from_bytes(probe):
        if found.tag == packet.Tag.SEIP:
            return f"SEIPD v{found.body[0]}"
        if found.tag == packet.Tag.AED:
            return "AEAD (LibrePGP)"
    raise EncryptionError("the probe message has no encrypted data packet")


def refuse_unreadable(certificate: Path) -> None:
    """Refuse a buyer certificate whose files gpg 2.2/2.4 could not decrypt."""
    found = message_format(certificate)
    if found != _READABLE_BY_GPG:
        raise UnreadableForBuyerError(
            f"the buyer's certificate {certificate.name} advertises {found} (RFC 9580); "
            "gpg 2.2/2.4 cannot decrypt such files. Ask the buyer for a key made with gpg, "
            'or set openpgp = "rfc9580" in the agreement\'s [delivery] if the buyer reads '
            "RFC 9580 (Sequoia sq, gpg 2.5+)"
        )


def _worker_environment() -> dict[str, str]:
    root = str(Path(sftp.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _widen(pipe: IO[bytes]) -> None:
    """Give the pipe room for a few chunks (64 KiB by default), so both ends keep busy."""
    with suppress(OSError):  # best effort: a smaller pipe is only slower
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _key_pipe(key: bytes) -> int:
    """A pipe holding ``key`` (then closed for writing): the child reads it from the fd, so
    the unsealed key is never written to disk nor shown in the child's arguments."""
    read, write = os.pipe()
    try:
        if len(key) > _PIPE_BYTES:
            raise EncryptionError("the seller key is too large")
        with suppress(OSError):
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, max(65536, len(key)))
        os.write(write, key)
    finally:
        os.close(write)
    return read


@contextmanager
def encrypting(
    out: Path, *, buyer: Path, seller: Path | bytes, armor: bool = False
) -> Iterator[IO[bytes]]:
    """A pipe whose bytes are encrypted to ``buyer`` and signed by ``seller`` into ``out``.

    ``seller`` is the key file or the key itself (as unsealed in memory). The child
    writes ``out.partial`` and it is renamed when the block ends cleanly, so ``out`` is
    never half a file; an exception in the block stops the child and removes the
    partial file.
    """
    partial = out.with_name(out.name + ".partial")
    form = "armor" if armor else "binary"
    key_fd = _key_pipe(seller) if isinstance(seller, bytes) else None
    seller_arg = f"fd:{key_fd}" if key_fd is not None else str(seller)
    try:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sftp.encrypt_worker",
                str(buyer),
                seller_arg,
                str(partial),
                form,
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_worker_environment(),
            pass_fds=(key_fd,) if key_fd is not None else (),
        )
    finally:
        if key_fd is not None:
            os.close(key_fd)
    stdin, stderr = child.stdin, child.stderr
    if stdin is None or stderr is None:  # pragma: no cover - both are PIPE above
        raise EncryptionError("the encryptor has no pipes")
    _widen(stdin)

    def failure() -> EncryptionError:
        reason = stderr.read().decode("utf-8", "replace").strip().splitlines()
        return EncryptionError(
            f"the encryptor stopped (exit {child.returncode}): "
            + (reason[-1] if reason else "no reason given")
        )

    try:
        try:
            yield stdin
            stdin.close()
        except BrokenPipeError:
            child.wait()
            partial.unlink(missing_ok=True)
            raise failure() from None
        except BaseException:
            child.kill()
            child.wait()
            partial.unlink(missing_ok=True)
            raise
        if child.wait() != 0:
            partial.unlink(missing_ok=True)
            raise failure()
        partial.replace(out)
    finally:
        stderr.close()
