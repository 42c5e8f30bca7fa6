"""Every JetStream stream and subject forwardflow uses, named in one place.

Handlers and connectors ask this module for subjects; nothing else spells one out, so
another broker binding (RabbitMQ) plugs in here without touching a handler.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from forwardflow.settings import BrokerSettings

__all__ = ["StreamSpec", "Topology", "ensure_streams"]

_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One stream: its name, the subjects it captures and how long it keeps messages."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: float
    duplicate_window_s: float = 900.0
    replicas: int = 1

    def config(self) -> StreamConfig:
        """The nats-py configuration for this stream."""
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_s,
            duplicate_window=self.duplicate_window_s,
            num_replicas=self.replicas,
        )


@dataclass(frozen=True, slots=True)
class Topology:
    """Stream and subject names under one prefix (``FF`` → streams ``FF_*``, subjects ``ff.*``)."""

    prefix: str = "FF"
    partitions: int = 4
    replicas: int = 1

    @classmethod
    def of(cls, broker: BrokerSettings) -> Topology:
        """The topology the broker settings describe (prefix, partitions, replicas)."""
        return cls(broker.stream_prefix, broker.partitions, broker.replicas)

    @property
    def _root(self) -> str:
        return self.prefix.lower()

    def partition_of(self, key: str) -> int:
        """A stable partition for a customer or receivable key (CRC-32, same everywhere)."""
        return zlib.crc32(key.encode()) % self.partitions

    def ledger_filter(self, partition: int) -> str:
        """What one partition's consumer reads: that partition of every tenant."""
        return f"{self._root}.ledger.*.{partition}"

    def ledger_consumer(self, partition: int) -> str:
        """The durable consumer of one ledger partition."""
        return f"{self.prefix}_ledger_{partition}"

    def stream(self, family: str) -> str:
        """A stream's name by family: ``NOTICES``, ``LEDGER``, ``COMMANDS``, ``EVENTS``, ``DLQ``."""
        return f"{self.prefix}_{family}"

    def notice_subject(self, platform: str, tenant: str) -> str:
        """Change notices from a platform's webhook, before the entity is fetched."""
        return f"{self._root}.notice.{platform}.{tenant}"

    def ledger_subject(self, tenant: str, partition: int) -> str:
        """Platform-neutral ledger events for one tenant and key partition."""
        return f"{self._root}.ledger.{tenant}.{partition}"

    @property
    def command_filter(self) -> str:
        """What the command consumer reads: every command."""
        return f"{self._root}.cmd.>"

    @property
    def command_consumer(self) -> str:
        """The durable consumer of commands (one: commands apply one at a time, in order)."""
        return f"{self.prefix}_commands"

    def command_subject(self, name: str) -> str:
        """Portfolio commands (``ClosePortfolio`` …)."""
        return f"{self._root}.cmd.{name}"

    def event_subject(self, name: str) -> str:
        """Domain events published from the outbox (``PortfolioClosed`` …)."""
        return f"{self._root}.event.{name}"

    @property
    def delivery_consumer(self) -> str:
        """The durable consumer that delivers sale files (the delivery role's)."""
        return f"{self.prefix}_delivery"

    def dead_letter_subject(self, consumer: str) -> str:
        """Messages a consumer gave up on, with the reason in the headers."""
        return f"{self._root}.dlq.{consumer}"

    @property
    def streams(self) -> tuple[StreamSpec, ...]:
        """All streams, each capturing one family of subjects."""
        root, p, r = self._root, self.prefix, self.replicas
        return (
            StreamSpec(f"{p}_NOTICES", (f"{root}.notice.>",), max_age_s=7 * _DAY_S, replicas=r),
            StreamSpec(f"{p}_LEDGER", (f"{root}.ledger.>",), max_age_s=30 * _DAY_S, replicas=r),
            StreamSpec(f"{p}_COMMANDS", (f"{root}.cmd.>",), max_age_s=7 * _DAY_S, replicas=r),
            StreamSpec(f"{p}_EVENTS", (f"{root}.event.>",), max_age_s=30 * _DAY_S, replicas=r),
            StreamSpec(f"{p}_DLQ", (f"{root}.dlq.>",), max_age_s=90 * _DAY_S, replicas=r),
        )

    def stream_for(self, subject: str) -> str:
        """The stream that captures ``subject``; a subject outside the topology is a bug."""
        for spec in self.streams:
            if any(_captures(pattern, subject) for pattern in spec.subjects):
                return spec.name
        raise LookupError(f"no forwardflow stream captures subject {subject!r}")


def _captures(pattern: str, subject: str) -> bool:
    """NATS wildcard match: ``*`` is one token, a trailing ``>`` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for index, part in enumerate(want):
        if part == ">":
            return len(have) > index
        if index >= len(have) or (part != "*" and part != have[index]):
            return False
    return len(want) == len(have)


async def ensure_streams(jetstream: Any, topology: Topology) -> list[str]:
    """Create missing streams and bring existing ones to the declared configuration."""
    names = []
    for spec in topology.streams:
        try:
            await jetstream.stream_info(spec.name)
        except NotFoundError:
            await jetstream.add_stream(spec.config())
        else:
            await jetstream.update_stream(spec.config())
        names.append(spec.name)
    return names
