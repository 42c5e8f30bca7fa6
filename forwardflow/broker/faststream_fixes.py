"""A FastStream 0.7 bug worked around: its batch pull loop dies on a timeout it meant to ignore.

``BatchPullStreamSubscriber._consume_pull`` fetches until the batch is full or its wait
ends, catching ``TimeoutError`` — the name it imports is ``nats.errors.TimeoutError``. But
nats-py's ``fetch`` raises the builtin ``asyncio.TimeoutError`` when the wait ran out
before its second pull request (``nats/js/client.py``, ``_fetch_n``). The loop task then
dies; FastStream's supervisor restarts it, and the messages it had collected for the
batch are left unacknowledged until ``ack_wait`` (30 s by default): the partition stalls.
The module's name is pointed at the builtin, which nats' own ``TimeoutError`` subclasses,
so both are caught as intended.
"""

from __future__ import annotations

import builtins

__all__ = ["catch_every_fetch_timeout"]


def catch_every_fetch_timeout() -> None:
    """Make FastStream's batch pull loop catch both timeouts a fetch raises (idempotent)."""
    from faststream.nats.subscriber.usecases import stream_pull_subscriber

    setattr(stream_pull_subscriber, "TimeoutError", builtins.TimeoutError)  # noqa: B010 - a module global, on purpose
