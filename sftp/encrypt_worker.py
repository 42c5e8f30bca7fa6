"""The encryptor as a child process: stdin to an OpenPGP file, on a core of its own.

pysequoia holds the GIL while it encrypts, so in the delivering process it could not
overlap with building the CSV. Run as ``python -m sftp.encrypt_worker BUYER_CERT
SELLER_KEY OUT binary|armor``; it reads the plaintext from stdin until end of file and
imports nothing of forwardflow. ``SELLER_KEY`` is a file, or ``fd:N``: the key arrives
through an inherited pipe (the parent keeps it sealed at rest and unseals it in memory).
"""

from __future__ import annotations

import os
import sys

from pysequoia import Cert, Tsk, encrypt_file

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Encrypt stdin to ``argv[0]``'s certificate, signed with ``argv[1]``, into ``argv[2]``."""
    buyer, seller, out, form = argv
    if seller.startswith("fd:"):
        with os.fdopen(int(seller[3:]), "rb") as pipe:
            key = Tsk.from_bytes(pipe.read())
    else:
        key = Tsk.from_file(seller)
    encrypt_file(
        "/dev/stdin",
        out,
        recipients=[Cert.from_file(buyer)],
        signer=key.signer(),
        armor=form == "armor",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
