"""Ledger partitions in batches: fetch many, apply them in order in one commit, then ack.

A message round trip per event (fetch one, apply, commit, ack, fetch the next) was the
ceiling of the ledger pipeline. A partition now fetches up to ``batch_size`` messages,
applies them in stream order in one transaction and acks them after its commit, so a
crash before the commit redelivers the batch and the inbox makes it exactly once.

Order per account across processes: several handler processes share a partition's
durable consumer, so a partition is applied only by the process holding its lease
(``forwardflow.store.leases``); another that fetched a batch hands it back and waits
for the lease (a takeover when the holder dies). The holder applies a batch only when it
is next in line: for first deliveries, the run delivered to it back to back (by the
consumer's delivery sequence: a message delivered in between to a pull request that had
already expired is cut off with everything after it) whose oldest message follows the
last acknowledged one; for redeliveries, only when nothing else of the partition is
unacknowledged. Otherwise the batch waits, kept alive, and after ``ack_wait`` goes back
in line behind what was in the way. The server never drops a handed-back message (the
ledger consumers have no ``max_deliver`` of their own; a failing message is
dead-lettered by its delivery count here).

One bad message never holds up the rest: an undecodable one, or one that breaks a rule
(or fails on its last allowed delivery), is dead-lettered and the batch is applied
without it. A transient failure commits what came before it, then waits its backoff
holding the rest (told to the server as in progress) and hands them back at once, in
order: JetStream redelivers before it delivers anything newer, so the order per account
survives a retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faststream.nats import ConsumerConfig, NatsBroker
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from debtsale.changes import LedgerChange
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.broker.deadletter import dead_letter
from forwardflow.broker.envelope import read_envelope
from forwardflow.store.leases import PartitionLeases
from handlers.ledger import BatchItemError
from handlers.outcome import Outcome
from handlers.ports import UnitOfWork

__all__ = ["ApplyBatch", "LedgerBatches", "one_by_one"]

log = logging.getLogger("forwardflow.handlers")

ApplyBatch = Callable[[UnitOfWork, Sequence[tuple[str, LedgerChange]]], list[Outcome]]
"""Apply (tenant, change) pairs in order; a failing one is named by ``BatchItemError``."""


def one_by_one(apply: Callable[[Any, str, LedgerChange], Outcome]) -> ApplyBatch:
    """A batch applied by a one-change handler, each change in its own commit.

    What came before a failure is committed already; applied again with the rest, the
    inbox answers it as a duplicate.
    """

    def run(uow: UnitOfWork, changes: Sequence[tuple[str, LedgerChange]]) -> list[Outcome]:
        outcomes = []
        for index, (tenant, change) in enumerate(changes):
            try:
                outcomes.append(apply(uow, tenant, change))
            except Exception as error:
                raise BatchItemError(index, error) from error
        return outcomes

    return run


@dataclass(frozen=True)
class _Held:
    """A fetched message, decoded, not yet acknowledged."""

    raw: Msg
    delivered: int
    tenant: str
    change: LedgerChange


def _delivered(raw: Msg) -> int:
    return raw.metadata.num_delivered if raw.metadata and raw.metadata.num_delivered else 1


def _latest_copies(held: list[_Held]) -> list[_Held]:
    """One copy of each message: the last delivered, when a batch collected one twice (its
    earlier delivery went to a pull request that had expired, or was handed back)."""
    latest: dict[int, _Held] = {}
    for message in held:
        seen = latest.get(_sequence(message.raw))
        if seen is None or _delivery(message.raw) > _delivery(seen.raw):
            latest[_sequence(message.raw)] = message
    return [latest[sequence] for sequence in sorted(latest)]


def _delivery(raw: Msg) -> int:
    return raw.metadata.sequence.consumer if raw.metadata and raw.metadata.sequence else 0


def _sequence(raw: Msg) -> int:
    return raw.metadata.sequence.stream if raw.metadata and raw.metadata.sequence else 0


class LedgerBatches:
    """The handler of one partition's batches (see the module's docstring)."""

    def __init__(
        self,
        broker: NatsBroker,
        app: Forwardflow,
        consumer: str,
        apply: ApplyBatch,
        *,
        subject: str,
        config: ConsumerConfig,
        leases: PartitionLeases,
        permanent: tuple[type[Exception], ...],
        backoff: Callable[[int], float],
    ) -> None:
        self._broker = broker
        self._app = app
        self._consumer = consumer
        self._leases = leases
        self._subject = subject
        self._config = config
        self._configured = False
        self._subscriber: Any = None
        self._stream = app.topology.stream("LEDGER")
        self._apply = apply
        self._permanent = permanent
        self._backoff = backoff
        self._max_deliver = app.settings.broker.max_deliver

    async def __call__(self, messages: Sequence[Msg]) -> None:
        """Apply a fetched batch; every message ends acked, dead-lettered or handed back."""
        if not await self._leased():
            await self._wait_for_lease(messages)
            return
        if not self._configured:
            await self._bring_consumer_up_to_date()
        held = []
        for raw in sorted(messages, key=_sequence):
            try:
                tenant, change = read_envelope(raw.data)
                if not isinstance(change, LedgerChange):
                    kind = type(change).__name__
                    raise DomainError("ledger.type", f"{kind} is not a ledger change")
            except Exception as error:  # undecodable: no retry can fix it
                await self._park(raw, _delivered(raw), f"{type(error).__name__}: {error}")
                continue
            held.append(_Held(raw, _delivered(raw), tenant, change))
        held = _latest_copies(held)
        held = await self._back_to_back(held)
        if held:
            held = await self._wait_in_line(held)
        if held:
            await self._apply_in_order(held)

    async def _back_to_back(self, held: list[_Held]) -> list[_Held]:
        """First deliveries: the run delivered back to back; the rest is handed back."""
        if not held or any(h.delivered > 1 for h in held):
            return held
        by_delivery = sorted(held, key=lambda h: _delivery(h.raw))
        run = 1
        while run < len(by_delivery) and (
            _delivery(by_delivery[run].raw) == _delivery(by_delivery[run - 1].raw) + 1
        ):
            run += 1
        for message in by_delivery[run:]:
            await message.raw.nak()
        return sorted(by_delivery[:run], key=lambda h: _sequence(h.raw))

    async def _bring_consumer_up_to_date(self) -> None:
        """A durable consumer made by an earlier version (one message in flight, the
        server's own max_deliver) is given this configuration (JetStream updates it)."""
        jetstream = self._broker.connection.jetstream()
        held = (await jetstream.consumer_info(self._stream, self._consumer)).config
        wanted = self._config
        if (held.max_ack_pending, held.max_deliver) != (wanted.max_ack_pending, wanted.max_deliver):
            await jetstream.add_consumer(self._stream, config=wanted)
            log.info(
                "consumer %s updated: max_ack_pending %s → %s, max_deliver %s → %s",
                self._consumer,
                held.max_ack_pending,
                wanted.max_ack_pending,
                held.max_deliver,
                wanted.max_deliver,
            )
        self._configured = True

    def watch(self, subscriber: Any) -> None:
        """The FastStream subscriber this handler serves: waits end when it stops."""
        self._subscriber = subscriber

    def _running(self) -> bool:
        return self._subscriber is None or bool(getattr(self._subscriber, "running", True))

    async def _leased(self) -> bool:
        return await asyncio.to_thread(self._leases.hold, self._consumer)

    async def _wait_for_lease(self, messages: Sequence[Msg]) -> None:
        """Hand the batch back and wait (blocking this partition's fetches) for the lease."""
        for raw in messages:
            await raw.nak()
        log.info("partition %s is applied by another process: waiting", self._consumer)
        while self._running() and not await self._leased():
            await asyncio.sleep(1.0)

    async def _wait_in_line(self, held: list[_Held]) -> list[_Held]:
        """What of the batch is next in line, once something is; the rest is handed back.
        Nothing, when ``ack_wait`` passed first (all of it handed back, behind what was in
        the way: a message held elsewhere or lost, which the server redelivers by then)."""
        ack_wait = self._app.settings.broker.ack_wait_seconds
        deadline = time.monotonic() + ack_wait + 1
        beat = time.monotonic() + ack_wait / 2
        fresh = all(h.delivered == 1 for h in held)
        while not (count := await self._in_line(held, fresh)):
            if time.monotonic() > deadline or not self._running():
                log.info(
                    "batch behind unacknowledged messages consumer=%s first_seq=%d: handed back",
                    self._consumer,
                    _sequence(held[0].raw),
                )
                count = 0
                break
            if time.monotonic() > beat:
                beat = time.monotonic() + ack_wait / 2
                for message in held:
                    await message.raw.in_progress()
            await asyncio.sleep(0.05)
        for message in held[count:]:
            await message.raw.nak()
        return held[:count]

    async def _in_line(self, held: list[_Held], fresh: bool) -> int:
        """How many of the batch (in stream order) follow the last acknowledged message of
        the partition with nothing else between them.

        First deliveries delivered back to back: all, when the oldest follows the ack
        floor (one look at the stream). Redeliveries: walked one by one from the floor (they
        are rare: after a failure or a takeover)."""
        jetstream = self._broker.connection.jetstream()
        info = await jetstream.consumer_info(self._stream, self._consumer)
        cursor = (
            info.ack_floor.stream_seq + 1 if info.ack_floor and info.ack_floor.stream_seq else 1
        )
        count = 0
        for message in held:
            sequence = _sequence(message.raw)
            if sequence >= cursor:
                try:
                    following = await jetstream.get_msg(
                        self._stream, seq=cursor, subject=self._subject, next=True
                    )
                except NotFoundError:
                    following = None
                if following is not None and following.seq is not None and following.seq < sequence:
                    return count  # an older message of the partition is in the way
                if fresh:
                    return len(held)  # delivered back to back after it: none between
                cursor = sequence + 1
            count += 1  # (below the floor: acknowledged already, a duplicate to skip)
        return count

    async def _apply_in_order(self, held: list[_Held]) -> None:
        while held:
            work = [(h.tenant, h.change) for h in held]
            try:
                outcomes = await self._app.run_db(self._apply, self._app.unit_of_work(), work)
            except BatchItemError as failed:
                culprit, error = held[failed.index], failed.error
                if isinstance(error, self._permanent):
                    await self._park(culprit.raw, culprit.delivered, _reason(error))
                elif culprit.delivered >= self._max_deliver:
                    await self._park(culprit.raw, culprit.delivered, _gave_up(culprit, error))
                else:
                    await self._apply_in_order(held[: failed.index])
                    await self._hand_back(held[failed.index :], culprit, error)
                    return
                held = held[: failed.index] + held[failed.index + 1 :]
                continue
            except Exception as error:  # the store, not one message: as if the first failed
                first = held[0]
                if first.delivered >= self._max_deliver:
                    await self._park(first.raw, first.delivered, _gave_up(first, error))
                    held = held[1:]
                    continue
                await self._hand_back(held, first, error)
                return
            await self._acknowledge(held, outcomes)
            return

    async def _acknowledge(self, held: list[_Held], outcomes: list[Outcome]) -> None:
        for message in held:
            await message.raw.ack()
        counts = Counter(outcome.value for outcome in outcomes)
        log.info(
            "handled batch consumer=%s size=%d first_event_id=%s last_event_id=%s %s",
            self._consumer,
            len(held),
            held[0].change.event_id,
            held[-1].change.event_id,
            " ".join(f"{name}={count}" for name, count in sorted(counts.items())),
        )
        if log.isEnabledFor(logging.DEBUG):
            for message, outcome in zip(held, outcomes, strict=True):
                log.debug(
                    "handled event_id=%s consumer=%s outcome=%s",
                    message.change.event_id,
                    self._consumer,
                    outcome,
                )

    async def _hand_back(self, held: list[_Held], culprit: _Held, error: Exception) -> None:
        """Wait the culprit's backoff holding ``held``, then give them back in order."""
        delay = self._backoff(culprit.delivered)
        log.info(
            "retrying event_id=%s delivered=%d error=%s held=%d delay=%.1fs",
            culprit.change.event_id,
            culprit.delivered,
            type(error).__name__,
            len(held),
            delay,
        )
        beat = self._app.settings.broker.ack_wait_seconds / 2
        while delay > 0:
            await asyncio.sleep(min(beat, delay))
            delay -= beat
            if delay > 0:
                for message in held:
                    await message.raw.in_progress()
        for message in held:
            await message.raw.nak()

    async def _park(self, raw: Msg, delivered: int, reason: str) -> None:
        await dead_letter(
            self._broker,
            self._app.topology,
            consumer=self._consumer,
            subject=raw.subject,
            headers=dict(raw.headers or {}),
            body=raw.data,
            reason=reason,
            delivered=delivered,
            stream_seq=_sequence(raw) or None,
        )
        await raw.ack()
        log.warning(
            "dead-lettered event_id=%s consumer=%s reason=%s",
            dict(raw.headers or {}).get("event_id", ""),
            self._consumer,
            reason.split(":", 1)[0],
        )


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _gave_up(message: _Held, error: Exception) -> str:
    return f"gave up after {message.delivered} deliveries: {_reason(error)}"
