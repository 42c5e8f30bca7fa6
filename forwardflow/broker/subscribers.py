"""FastStream subscribers: one ordered, durable consumer per ledger partition.

Each consumer has ``max_ack_pending=1``: a partition's messages apply one after the
other, partitions run in parallel. Acknowledgement is explicit: a message is acked
only after its unit of work committed; a permanent error (malformed, broken rule)
dead-letters it at once; anything else is redelivered with backoff and dead-lettered
on the last allowed delivery, so nothing is ever dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import DeliverPolicy

from debtsale.changes import LedgerChange
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.deadletter import dead_letter
from forwardflow.broker.envelope import EVENT_ID, read_envelope
from forwardflow.broker.topology import Topology
from handlers.ledger import Outcome, apply_ledger_change

__all__ = ["PERMANENT_ERRORS", "build_broker", "ledger_backlog", "register_ledger_subscribers"]

log = logging.getLogger("forwardflow.handlers")

PERMANENT_ERRORS: tuple[type[Exception], ...] = (DomainError,)
"""Errors that no retry can fix: the message is dead-lettered at once."""


def _backoff(delivered: int) -> float:
    """Seconds before the next try: 1, 2, 4 … capped at 30."""
    return float(min(30, 2 ** max(0, delivered - 1)))


def _ledger_handler(
    broker: NatsBroker,
    app: Forwardflow,
    consumer: str,
    max_deliver: int,
    apply: Callable[[Any, str, LedgerChange], Outcome],
) -> Callable[[NatsMessage], Awaitable[None]]:
    """The handler of one ledger consumer; FastStream injects only the message."""
    topology = app.topology

    async def handle(message: NatsMessage) -> None:
        raw = message.raw_message
        delivered = raw.metadata.num_delivered if raw.metadata else 1
        stream_seq = raw.metadata.sequence.stream if raw.metadata else None
        headers = dict(raw.headers or {})

        async def park(reason: str) -> None:
            await dead_letter(
                broker,
                topology,
                consumer=consumer,
                subject=raw.subject,
                headers=headers,
                body=raw.data,
                reason=reason,
                delivered=delivered,
                stream_seq=stream_seq,
            )
            await message.ack()
            log.warning(
                "dead-lettered event_id=%s consumer=%s reason=%s",
                headers.get(EVENT_ID),
                consumer,
                reason.split(":", 1)[0],
            )

        try:
            tenant, change = read_envelope(raw.data)
            if not isinstance(change, LedgerChange):
                raise DomainError("ledger.type", f"{type(change).__name__} is not a ledger change")
            outcome = await app.run_db(apply, app.unit_of_work(), tenant, change)
        except PERMANENT_ERRORS as error:
            await park(f"{type(error).__name__}: {error}")
            return
        except Exception as error:
            if delivered >= max_deliver:
                await park(f"gave up after {delivered} deliveries: {type(error).__name__}: {error}")
                return
            log.info(
                "retrying event_id=%s delivered=%d error=%s",
                headers.get(EVENT_ID),
                delivered,
                type(error).__name__,
            )
            await message.nack(delay=_backoff(delivered))
            return
        await message.ack()
        log.info(
            "handled event_id=%s consumer=%s outcome=%s", headers.get(EVENT_ID), consumer, outcome
        )

    return handle


def register_ledger_subscribers(
    broker: NatsBroker,
    app: Forwardflow,
    *,
    apply: Callable[[Any, str, LedgerChange], Outcome] = apply_ledger_change,
) -> None:
    """Subscribe one durable consumer per ledger partition on ``broker``."""
    topology = app.topology
    max_deliver = app.settings.broker.max_deliver
    stream = JStream(topology.stream("LEDGER"), declare=False)
    for partition in range(topology.partitions):
        consumer = topology.ledger_consumer(partition)
        handle = _ledger_handler(broker, app, consumer, max_deliver, apply)
        broker.subscriber(
            topology.ledger_filter(partition),
            stream=stream,
            durable=consumer,
            pull_sub=PullSub(batch_size=1, timeout=1.0),
            config=ConsumerConfig(
                durable_name=consumer,
                ack_policy=JsAckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=1,
                max_deliver=max_deliver + 1,  # we dead-letter on the last one ourselves
                ack_wait=app.settings.broker.ack_wait_seconds,
                filter_subject=topology.ledger_filter(partition),
            ),
            ack_policy=AckPolicy.MANUAL,
            title=f"ledger partition {partition}",
            description="Ledger changes of every tenant in this partition, applied in order.",
        )(handle)


def build_broker(app: Forwardflow, servers: list[str], *, handlers: bool = True) -> NatsBroker:
    """A NATS broker for forwardflow, with the ledger subscribers unless ``handlers=False``.

    FastStream's own per-message access log is at DEBUG: the handlers log one line per
    event with its id and outcome instead.
    """
    broker = NatsBroker(servers=servers, graceful_timeout=30.0, logger=log, log_level=logging.DEBUG)
    if handlers:
        register_ledger_subscribers(broker, app)
    return broker


async def ledger_backlog(broker: NatsBroker, topology: Topology) -> int:
    """Ledger messages not acknowledged yet: waiting, or delivered and in flight."""
    jetstream = broker.connection.jetstream()
    backlog = 0
    for partition in range(topology.partitions):
        info = await jetstream.consumer_info(
            topology.stream("LEDGER"), topology.ledger_consumer(partition)
        )
        backlog += info.num_pending + info.num_ack_pending
    return backlog
