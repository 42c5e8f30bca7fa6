"""How far each consumer is behind: pending, in flight, redelivered, dead letters, oldest age.

Read from JetStream's consumer and stream info (cheap: no message is fetched, except
one per lagging consumer when the oldest unacknowledged message's age is asked for).
Readiness, ``/metrics`` and ``forwardflow status`` all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from forwardflow.broker.topology import Topology

__all__ = ["ConsumerLag", "consumer_lags", "dead_letters_by_consumer"]

WORK_STREAMS = ("NOTICES", "LEDGER", "COMMANDS", "EVENTS")


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    """One durable consumer's backlog."""

    stream: str
    consumer: str
    pending: int  # in the stream, not yet delivered
    ack_pending: int  # delivered, not yet acknowledged
    redelivered: int
    oldest_unacked_age_s: float | None = None  # None: nothing waiting (or not asked)
    dead_letters: int = 0

    @property
    def backlog(self) -> int:
        """Waiting or in flight."""
        return self.pending + self.ack_pending

    def as_json(self) -> dict[str, Any]:
        """The shape ``forwardflow status --json`` prints."""
        return {
            "stream": self.stream,
            "consumer": self.consumer,
            "pending": self.pending,
            "ack_pending": self.ack_pending,
            "redelivered": self.redelivered,
            "dead_letters": self.dead_letters,
            "oldest_unacked_age_seconds": self.oldest_unacked_age_s,
        }


async def dead_letters_by_consumer(jetstream: Any, topology: Topology) -> dict[str, int]:
    """Messages in the dead-letter stream, by the consumer that gave up on them."""
    prefix = topology.dead_letter_subject("")
    info = await jetstream.stream_info(topology.stream("DLQ"), subjects_filter=f"{prefix}>")
    subjects = info.state.subjects or {}
    return {subject.removeprefix(prefix): int(count) for subject, count in subjects.items()}


async def _oldest_age(jetstream: Any, stream: str, info: Any, now: datetime) -> float | None:
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    subject = info.config.filter_subject or None
    try:
        message = await jetstream.get_msg(stream, seq=floor + 1, subject=subject, next=True)
    except Exception:  # nothing after the floor (purged, or aged out): no age to tell
        return None
    if message.time is None:
        return None
    return max(0.0, float((now - message.time).total_seconds()))


async def consumer_lags(
    jetstream: Any,
    topology: Topology,
    families: tuple[str, ...] = WORK_STREAMS,
    *,
    ages: bool = False,
) -> list[ConsumerLag]:
    """Every durable consumer of the streams of ``families`` (with ages if asked)."""
    dead = await dead_letters_by_consumer(jetstream, topology)
    now = datetime.now(UTC)
    found = []
    for family in families:
        stream = topology.stream(family)
        for info in await jetstream.consumers_info(stream):
            pending, ack_pending = int(info.num_pending or 0), int(info.num_ack_pending or 0)
            age = (
                await _oldest_age(jetstream, stream, info, now)
                if ages and pending + ack_pending
                else None
            )
            found.append(
                ConsumerLag(
                    stream,
                    info.name,
                    pending,
                    ack_pending,
                    int(info.num_redelivered or 0),
                    age,
                    dead.get(info.name, 0),
                )
            )
    return found
