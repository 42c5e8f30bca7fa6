"""The outbox relay: publishes committed events to JetStream, oldest first, deduplicated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from faststream.nats import NatsBroker

from forwardflow.broker.envelope import EVENT_ID, MSG_ID
from forwardflow.broker.topology import Topology
from forwardflow.store.uow import OutboxMessage, SqlUnitOfWork

__all__ = ["relay_pending"]


def _read_pending(new_uow: Callable[[], SqlUnitOfWork], limit: int) -> list[OutboxMessage]:
    with new_uow() as uow:
        return uow.outbox.pending(limit)


def _mark_published(new_uow: Callable[[], SqlUnitOfWork], ids: list[int]) -> None:
    with new_uow() as uow:
        uow.outbox.mark_published(ids)
        uow.commit()


async def relay_pending(
    new_uow: Callable[[], SqlUnitOfWork],
    broker: NatsBroker,
    topology: Topology,
    *,
    limit: int = 500,
) -> int:
    """Publish up to ``limit`` unpublished events in id order; return how many went out.

    Each message carries ``Nats-Msg-Id = event_id``, so a relay that crashes after
    publishing but before marking publishes again harmlessly: the stream drops the copy.
    Publishing stops at the first failure, so events never overtake one another.
    """
    pending = await asyncio.to_thread(_read_pending, new_uow, limit)
    published: list[int] = []
    try:
        for message in pending:
            headers = {
                **message.headers,
                MSG_ID: message.event_id,
                EVENT_ID: message.event_id,
            }
            await broker.publish(
                message.payload,
                message.subject,
                headers=headers,
                stream=topology.stream_for(message.subject),
                timeout=5.0,
            )
            published.append(message.id)
    finally:
        await asyncio.to_thread(_mark_published, new_uow, published)
    return len(published)
