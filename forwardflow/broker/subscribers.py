"""FastStream subscribers: one ordered, durable consumer per ledger partition, one for commands.

Each consumer has ``max_ack_pending=1``: a partition's messages apply one after the
other, partitions run in parallel. Acknowledgement is explicit: a message is acked
only after its unit of work committed; a permanent error (malformed, broken rule)
dead-letters it at once; anything else is redelivered with backoff and dead-lettered
on the last allowed delivery, so nothing is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.message import NatsBatchMessage as _BatchMessage
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import DeliverPolicy

from debtsale.changes import LedgerChange
from debtsale.codec import decode_event
from debtsale.errors import DomainError
from debtsale.events import PortfolioClosed
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.batches import LedgerBatches, one_by_one
from forwardflow.broker.bus import Bus
from forwardflow.broker.commands import REPLY_TO, CommandAnswer, read_command
from forwardflow.broker.deadletter import dead_letter
from forwardflow.broker.envelope import EVENT_ID
from forwardflow.broker.faststream_fixes import catch_every_fetch_timeout
from forwardflow.broker.topology import Topology
from forwardflow.delivery import FINAL_DELIVERY_ERRORS, deliver_portfolio
from forwardflow.notices import fetch_notice
from forwardflow.postings import apply_posted_event, post_journal_event
from forwardflow.store.leases import partition_leases
from handlers.outcome import Outcome
from handlers.registry import LEDGER_BATCH_HANDLER, handle_command

__all__ = [
    "PERMANENT_ERRORS",
    "NatsBatchMessage",
    "build_broker",
    "ledger_backlog",
    "register_application_subscriber",
    "register_command_subscriber",
    "register_delivery_subscriber",
    "register_journal_subscriber",
    "register_ledger_subscribers",
    "register_notice_subscribers",
]

log = logging.getLogger("forwardflow.handlers")

NatsBatchMessage = Annotated[_BatchMessage, Context("message")]
"""A partition's fetched batch, as FastStream hands it to a ``batch=True`` subscriber."""

PERMANENT_ERRORS: tuple[type[Exception], ...] = (DomainError, *FINAL_DELIVERY_ERRORS)
"""Errors that no retry can fix: the message is dead-lettered at once."""


def _backoff(delivered: int) -> float:
    """Seconds before the next try: 1, 2, 4 … capped at 30."""
    return float(min(30, 2 ** max(0, delivered - 1)))


async def _keep_alive(raw: Any, ack_wait: float) -> None:
    """Tell the server a long job is still running, so it is not redelivered meanwhile."""
    while True:
        await asyncio.sleep(ack_wait / 2)
        await raw.in_progress()


Process = Callable[[bytes], Awaitable[tuple[Outcome, str]]]
"""Apply one message body; returns the outcome and the id it was applied under."""


async def _park(
    broker: NatsBroker,
    topology: Topology,
    consumer: str,
    message: NatsMessage,
    delivered: int,
    reason: str,
) -> None:
    """Move a message to the dead letters with the reason, then acknowledge it."""
    raw = message.raw_message
    headers = dict(raw.headers or {})
    await dead_letter(
        broker,
        topology,
        consumer=consumer,
        subject=raw.subject,
        headers=headers,
        body=raw.data,
        reason=reason,
        delivered=delivered,
        stream_seq=raw.metadata.sequence.stream if raw.metadata else None,
    )
    await message.ack()
    log.warning(
        "dead-lettered event_id=%s consumer=%s reason=%s",
        headers.get(EVENT_ID, ""),
        consumer,
        reason.split(":", 1)[0],
    )


def _durable_handler(
    broker: NatsBroker,
    app: Forwardflow,
    consumer: str,
    max_deliver: int,
    process: Process,
    *,
    long_running: bool = False,
) -> Callable[[NatsMessage], Awaitable[None]]:
    """Ack after commit, dead-letter what can never work, retry the rest with backoff.

    When the message names a reply subject (a command sent by the CLI), the sender is
    told the outcome, or why the message was refused.
    """
    topology = app.topology

    async def handle(message: NatsMessage) -> None:
        raw = message.raw_message
        delivered = raw.metadata.num_delivered if raw.metadata else 1
        headers = dict(raw.headers or {})
        message_id = headers.get(EVENT_ID, "")

        async def answer(outcome: str, error: str = "") -> None:
            if reply_to := headers.get(REPLY_TO):
                await broker.connection.publish(
                    reply_to, CommandAnswer(message_id, outcome, error).to_bytes()
                )

        async def park(reason: str, outcome: str) -> None:
            await _park(broker, topology, consumer, message, delivered, reason)
            await answer(outcome, reason)

        heartbeat = (
            asyncio.create_task(_keep_alive(raw, app.settings.broker.ack_wait_seconds))
            if long_running
            else None
        )
        try:
            outcome, message_id = await process(raw.data)
        except PERMANENT_ERRORS as error:
            await park(f"{type(error).__name__}: {error}", "refused")
            return
        except Exception as error:
            if delivered >= max_deliver:
                reason = f"gave up after {delivered} deliveries: {type(error).__name__}: {error}"
                await park(reason, "failed")
                return
            log.info(
                "retrying event_id=%s delivered=%d error=%s",
                message_id,
                delivered,
                type(error).__name__,
            )
            await message.nack(delay=_backoff(delivered))
            return
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
        await message.ack()
        await answer(outcome.value)
        log.info("handled event_id=%s consumer=%s outcome=%s", message_id, consumer, outcome)

    return handle


def _subscribe(
    broker: NatsBroker,
    app: Forwardflow,
    *,
    stream: str,
    subject: str,
    consumer: str,
    process: Process,
    title: str,
    description: str,
    long_running: bool = False,
) -> None:
    """One durable pull consumer with explicit acks and at most one message in flight.

    ``long_running`` handlers (uploads) tell the server they are still at work every
    half ``ack_wait``; quick ones skip that per-message cost.
    """
    max_deliver = app.settings.broker.max_deliver
    broker.subscriber(
        subject,
        stream=JStream(stream, declare=False),
        durable=consumer,
        pull_sub=PullSub(batch_size=1, timeout=1.0),
        config=ConsumerConfig(
            durable_name=consumer,
            ack_policy=JsAckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=1,
            max_deliver=max_deliver + 1,  # we dead-letter on the last one ourselves
            ack_wait=app.settings.broker.ack_wait_seconds,
            filter_subject=subject,
        ),
        ack_policy=AckPolicy.MANUAL,
        title=title,
        description=description,
    )(_durable_handler(broker, app, consumer, max_deliver, process, long_running=long_running))


def register_ledger_subscribers(
    broker: NatsBroker,
    app: Forwardflow,
    *,
    apply: Callable[[Any, str, LedgerChange], Outcome] | None = None,
) -> None:
    """Subscribe one durable consumer per ledger partition on ``broker``, in batches.

    Each partition fetches up to ``broker.ledger_batch_size`` messages and applies them in
    order in one commit (``forwardflow.broker.batches``); ``apply``, a one-change handler,
    replaces the batch handler (each change then commits on its own), for tests.
    """
    catch_every_fetch_timeout()
    topology = app.topology
    batch = LEDGER_BATCH_HANDLER if apply is None else one_by_one(apply)
    leases = partition_leases(app.engine, app.settings.data_dir / "leases")
    size = app.settings.broker.ledger_batch_size
    for partition in range(topology.partitions):
        subject = topology.ledger_filter(partition)
        consumer = topology.ledger_consumer(partition)
        config = ConsumerConfig(
            durable_name=consumer,
            ack_policy=JsAckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=size,
            # unlimited: a batch handed back to keep the order must never be dropped;
            # a failing message is dead-lettered by its delivery count (batches.py)
            max_deliver=-1,
            ack_wait=app.settings.broker.ack_wait_seconds,
            filter_subject=subject,
        )
        handler = LedgerBatches(
            broker,
            app,
            consumer,
            batch,
            subject=subject,
            config=config,
            leases=leases,
            permanent=PERMANENT_ERRORS,
            backoff=_backoff,
        )
        subscriber = broker.subscriber(
            subject,
            stream=JStream(topology.stream("LEDGER"), declare=False),
            durable=consumer,
            pull_sub=PullSub(
                batch_size=size, timeout=app.settings.broker.ledger_batch_wait_seconds, batch=True
            ),
            config=config,
            ack_policy=AckPolicy.MANUAL,
            title=f"ledger partition {partition}",
            description="Ledger changes of every tenant in this partition, applied in order, "
            "a batch per commit.",
        )
        subscriber(_batch_handler(handler))
        handler.watch(subscriber)


def _batch_handler(batches: LedgerBatches) -> Callable[..., Awaitable[None]]:
    async def handle(message: NatsBatchMessage) -> None:
        await batches(message.raw_message)

    return handle


def register_command_subscriber(broker: NatsBroker, app: Forwardflow) -> None:
    """Subscribe the command consumer: every command, one at a time, answered to its sender."""

    async def process(body: bytes) -> tuple[Outcome, str]:
        command = read_command(body)
        return await app.run_db(handle_command, app.unit_of_work(), command), command.command_id

    _subscribe(
        broker,
        app,
        stream=app.topology.stream("COMMANDS"),
        subject=app.topology.command_filter,
        consumer=app.topology.command_consumer,
        process=process,
        title="portfolio commands",
        description="Cut, flag, remove, close, put-back and remittance commands, in order.",
    )


def register_delivery_subscriber(broker: NatsBroker, app: Forwardflow) -> None:
    """Deliver each closed portfolio's sale file to its buyer (when the agreement says where).

    Uploads run on a thread; a heartbeat keeps a long upload from being redelivered.
    A delivery that needs an operator (wrong pin or key, conflicting file, totals that
    do not tie out) is dead-lettered at once; transient failures are retried.
    """

    async def process(body: bytes) -> tuple[Outcome, str]:
        closed = decode_event(body)
        if not isinstance(closed, PortfolioClosed):
            raise DomainError("event.shape", f"not a PortfolioClosed event: {closed.event_id}")
        portfolio_id, event_id = closed.portfolio_id, closed.event_id
        with app.unit_of_work() as uow:
            portfolio = uow.portfolios.get(portfolio_id)
            agreement = uow.agreements.get(portfolio.agreement_id) if portfolio else None
        if agreement is None or agreement.delivery is None:
            log.info("no delivery configured portfolio_id=%s", portfolio_id)
            return Outcome.SKIPPED, event_id
        await asyncio.to_thread(deliver_portfolio, app, portfolio_id)
        return Outcome.APPLIED, event_id

    _subscribe(
        broker,
        app,
        stream=app.topology.stream("EVENTS"),
        subject=app.topology.event_subject("PortfolioClosed"),
        consumer=app.topology.delivery_consumer,
        process=process,
        title="sale-file delivery",
        description="Delivers the sale file of every closed portfolio to its buyer.",
        long_running=True,
    )


def register_notice_subscribers(broker: NatsBroker, app: Forwardflow) -> None:
    """Per platform: fetch what each change notice names, publish it as ledger changes.

    A throttled or unavailable platform is retried with backoff; a refusal (company not
    connected, an error the platform will repeat) is dead-lettered with the reason.
    """
    buses: list[Bus] = []

    def bus() -> Bus:  # made on the event loop, at the first message
        if not buses:
            buses.append(Bus(broker, app.topology))
        return buses[0]

    for platform in app.platforms.values():

        async def process(body: bytes, name: str = platform.name) -> tuple[Outcome, str]:
            return Outcome.APPLIED, await fetch_notice(app.platform(name, bus()), body)

        _subscribe(
            broker,
            app,
            stream=app.topology.stream("NOTICES"),
            subject=app.topology.notice_subject(platform.name, "*"),
            consumer=f"{app.topology.prefix}_notices_{platform.name}",
            process=process,
            title=f"{platform.title} change notices",
            description="Re-reads each changed entity and publishes its ledger change.",
        )


def register_journal_subscriber(broker: NatsBroker, app: Forwardflow) -> None:
    """Post each requested journal entry to its company's books, whatever the platform."""

    async def process(body: bytes) -> tuple[Outcome, str]:
        posted, event_id = await post_journal_event(app, body)
        return (Outcome.APPLIED if posted else Outcome.SKIPPED), event_id

    _subscribe(
        broker,
        app,
        stream=app.topology.stream("EVENTS"),
        subject=app.topology.event_subject("JournalEntryRequested"),
        consumer=f"{app.topology.prefix}_journal",
        process=process,
        title="journal entries to the platforms' books",
        description="Posts the sale, refund, payment-after-sale and remittance entries.",
    )


def register_application_subscriber(broker: NatsBroker, app: Forwardflow) -> None:
    """Apply each posted entry's receivable lines to the invoices (sold ones closed)."""

    async def process(body: bytes) -> tuple[Outcome, str]:
        applied, event_id = await apply_posted_event(app, body)
        return (Outcome.APPLIED if applied else Outcome.SKIPPED), event_id

    _subscribe(
        broker,
        app,
        stream=app.topology.stream("EVENTS"),
        subject=app.topology.event_subject("JournalEntryPosted"),
        consumer=f"{app.topology.prefix}_apply",
        process=process,
        title="journal entries applied to the platforms' invoices",
        description="Closes sold invoices with the sale's credit; reopens reinstated ones.",
        long_running=True,  # a sale's first application writes one payment per customer
    )


def build_broker(
    app: Forwardflow,
    servers: list[str],
    *,
    handlers: bool = True,
    delivery: bool = False,
    middlewares: Sequence[Any] = (),
) -> NatsBroker:
    """A NATS broker for forwardflow: ledger and command subscribers, delivery if asked.

    FastStream's own per-message access log is at DEBUG: the handlers log one line per
    event with its id and outcome instead. ``middlewares`` (metrics) wrap every message.
    """
    broker = NatsBroker(
        servers=servers,
        graceful_timeout=30.0,
        logger=log,
        log_level=logging.DEBUG,
        middlewares=tuple(middlewares),
    )
    if handlers:
        register_ledger_subscribers(broker, app)
        register_command_subscriber(broker, app)
        register_notice_subscribers(broker, app)
        register_journal_subscriber(broker, app)
        register_application_subscriber(broker, app)
    if delivery:
        register_delivery_subscriber(broker, app)
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
