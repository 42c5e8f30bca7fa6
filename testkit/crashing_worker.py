"""A handlers-role worker that kills itself (SIGKILL) inside the N-th database commit.

``python -m testkit.crashing_worker N`` reads its settings from the environment like
``forwardflow run --role handlers`` and dies at the ``N``-th commit, after the batch's
statements ran and before the database committed them: the crash the batched ledger
consumers must survive without losing or doubling anything.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from sqlalchemy import event

from forwardflow.bootstrap import bootstrap
from forwardflow.service import Role, serve
from forwardflow.settings import load_settings

__all__ = ["main"]


def main(argv: list[str]) -> None:
    """Run the handlers role until the ``argv[0]``-th commit, then SIGKILL this process."""
    kill_at = int(argv[0])
    app = bootstrap(load_settings())
    commits = {"n": 0}

    def on_commit(_connection: Any) -> None:
        commits["n"] += 1
        if commits["n"] == kill_at:
            sys.stderr.write(f"crashing_worker: SIGKILL inside commit {kill_at}\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(app.engine, "commit", on_commit)
    asyncio.run(serve(app, Role.HANDLERS))


if __name__ == "__main__":
    main(sys.argv[1:])
