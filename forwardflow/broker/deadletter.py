"""Dead letters: messages a consumer gave up on, kept with the reason, listed and replayed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError

from forwardflow.broker.envelope import MSG_ID
from forwardflow.broker.topology import Topology

__all__ = ["DeadLetter", "dead_letter", "list_dead_letters", "purge_dead_letters", "replay"]

REASON = "ff-dlq-reason"
SUBJECT = "ff-dlq-subject"
CONSUMER = "ff-dlq-consumer"
HEADERS = "ff-dlq-headers"
DELIVERED = "ff-dlq-delivered"
SEQUENCE = "ff-dlq-stream-seq"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter as operators see it."""

    id: int  # its sequence in the dead-letter stream
    consumer: str
    subject: str
    reason: str
    delivered: int
    headers: dict[str, str]
    body: bytes


async def dead_letter(
    broker: NatsBroker,
    topology: Topology,
    *,
    consumer: str,
    subject: str,
    headers: dict[str, str],
    body: bytes,
    reason: str,
    delivered: int,
    stream_seq: int | None,
) -> None:
    """Park a message with its reason, its original subject and headers."""
    dlq_headers = {
        REASON: reason[:2000],
        SUBJECT: subject,
        CONSUMER: consumer,
        HEADERS: json.dumps(headers),
        DELIVERED: str(delivered),
        MSG_ID: f"dlq:{consumer}:{stream_seq}"
        if stream_seq
        else f"dlq:{consumer}:{headers.get(MSG_ID, '')}",
    }
    if stream_seq is not None:
        dlq_headers[SEQUENCE] = str(stream_seq)
    subject_out = topology.dead_letter_subject(consumer)
    await broker.connection.jetstream().publish(
        subject_out, body, headers=dlq_headers, stream=topology.stream("DLQ")
    )


def _letter(sequence: int, headers: dict[str, str], body: bytes) -> DeadLetter:
    return DeadLetter(
        id=sequence,
        consumer=headers.get(CONSUMER, "?"),
        subject=headers.get(SUBJECT, "?"),
        reason=headers.get(REASON, "?"),
        delivered=int(headers.get(DELIVERED, "0")),
        headers=json.loads(headers.get(HEADERS, "{}")),
        body=body,
    )


async def list_dead_letters(broker: NatsBroker, topology: Topology) -> list[DeadLetter]:
    """Every dead letter, oldest first."""
    jetstream = broker.connection.jetstream()
    stream = topology.stream("DLQ")
    info = await jetstream.stream_info(stream)
    if not info.state.messages:
        return []
    letters = []
    for sequence in range(max(1, info.state.first_seq), info.state.last_seq + 1):
        try:
            message = await jetstream.get_msg(stream, sequence)
        except NotFoundError:
            continue  # removed by a replay or a purge
        letters.append(_letter(sequence, dict(message.headers or {}), message.data or b""))
    return letters


async def replay(broker: NatsBroker, topology: Topology, letter: DeadLetter) -> None:
    """Publish the message again to its subject, then drop the dead letter.

    The broker would drop a second publish with the same ``Nats-Msg-Id`` inside the
    dedupe window, so the replay gets its own; the consumer's inbox still makes the
    effect happen once.
    """
    headers: dict[str, Any] = {
        **letter.headers,
        MSG_ID: f"{letter.headers.get(MSG_ID, '')}:replay:{letter.id}",
    }
    jetstream = broker.connection.jetstream()
    await jetstream.publish(
        letter.subject, letter.body, headers=headers, stream=topology.stream_for(letter.subject)
    )
    await jetstream.delete_msg(topology.stream("DLQ"), letter.id)


async def purge_dead_letters(broker: NatsBroker, topology: Topology) -> int:
    """Drop every dead letter; returns how many there were."""
    jetstream = broker.connection.jetstream()
    info = await jetstream.stream_info(topology.stream("DLQ"))
    await jetstream.purge_stream(topology.stream("DLQ"))
    return int(info.state.messages)
