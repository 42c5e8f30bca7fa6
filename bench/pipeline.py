"""Benchmark: forwardflow's ledger handlers against a bare FastStream consumer, same broker.

Publishes N ledger events, then times how fast (a) a bare per-message consumer (batch 1,
``max_ack_pending=1``) that only decodes and acks and (b) forwardflow's subscribers
applying them to a fresh store (a new SQLite file, or a new PostgreSQL schema) drain
them, on the same partitions. For information it also times (c) a bare consumer with
forwardflow's batch settings that only decodes and acks: the transport's own limit, and
forwardflow's share of it. The set runs ``--rounds`` times (3) and the last line is the
median ratio, ``pipeline_ratio <b/a>``: the figure to compare, since machines are noisy.
``--sizes 10000,100000`` also times (b) at each size and prints ``flatness`` (events/s
at the largest size ÷ at the smallest): the cost per event as the store grows.

    python bench/pipeline.py [--events 20000] [--partitions 4] [--database URL] [--nats URL]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import AckPolicy as JsAckPolicy

from debtsale.changes import LedgerChange
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.envelope import ledger_message
from forwardflow.broker.runtime import connect_broker, nats_server
from forwardflow.broker.subscribers import (
    NatsBatchMessage,
    ledger_backlog,
    register_ledger_subscribers,
)
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.store import upgrade
from testkit.builders import LedgerBuilder
from testkit.databases import postgres_schema


def history(events: int, seed: int = 1) -> list[LedgerChange]:
    """A plausible stream: invoices, partial payments, credits, edits and voids."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    book = LedgerBuilder()
    invoices: list[tuple[str, str]] = []
    start = date(2024, 1, 1)
    while len(book.changes) < events:
        roll = rnd.random()
        if roll < 0.45 or not invoices:
            customer = f"C{rnd.randrange(max(10, events // 20))}"
            invoices.append((f"I{len(invoices)}", customer))
            book.invoice(
                invoices[-1][0],
                customer,
                f"{rnd.randint(100, 400000) / 100:.2f}",
                invoice_date=start + timedelta(days=rnd.randrange(600)),
            )
        elif roll < 0.85:
            invoice, customer = rnd.choice(invoices)
            book.pay(
                f"P{len(book.changes)}",
                customer,
                start + timedelta(days=rnd.randrange(700)),
                {invoice: f"{rnd.randint(1, 50000) / 100:.2f}"},
            )
        else:
            invoice, customer = rnd.choice(invoices)
            book.credit(
                f"CM{len(book.changes)}",
                customer,
                start + timedelta(days=rnd.randrange(700)),
                {invoice: f"{rnd.randint(1, 10000) / 100:.2f}"},
            )
    return book.changes[:events]


async def publish_all(broker: NatsBroker, app: Forwardflow, changes: list[LedgerChange]) -> None:
    """Publish every change with acknowledgement, 200 in flight at a time."""
    jetstream = broker.connection.jetstream()
    pending: list[Awaitable[object]] = []
    for change in changes:
        subject, body, headers = ledger_message(app.topology, "bench-tenant", change)
        pending.append(jetstream.publish(subject, body, headers=headers))
        if len(pending) >= 200:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


def register_bare(broker: NatsBroker, app: Forwardflow) -> None:
    """The baseline (a): per-message consumers, decoding JSON and acking, nothing else."""
    topology = app.topology
    for partition in range(topology.partitions):

        async def handle(message: NatsMessage) -> None:
            json.loads(message.raw_message.data)
            await message.ack()

        broker.subscriber(
            topology.ledger_filter(partition),
            stream=JStream(topology.stream("LEDGER"), declare=False),
            durable=topology.ledger_consumer(partition),
            pull_sub=PullSub(batch_size=1, timeout=1.0),
            config=ConsumerConfig(
                durable_name=topology.ledger_consumer(partition),
                ack_policy=JsAckPolicy.EXPLICIT,
                max_ack_pending=1,
                ack_wait=app.settings.broker.ack_wait_seconds,
                filter_subject=topology.ledger_filter(partition),
            ),
            ack_policy=AckPolicy.MANUAL,
        )(handle)


def register_bare_batched(broker: NatsBroker, app: Forwardflow) -> None:
    """(c), for information: forwardflow's batch settings, decoding and acking only."""
    topology = app.topology
    size = app.settings.broker.ledger_batch_size
    for partition in range(topology.partitions):

        async def handle(message: NatsBatchMessage) -> None:
            for raw in message.raw_message:
                json.loads(raw.data)
                await raw.ack()

        broker.subscriber(
            topology.ledger_filter(partition),
            stream=JStream(topology.stream("LEDGER"), declare=False),
            durable=topology.ledger_consumer(partition),
            pull_sub=PullSub(
                batch_size=size, timeout=app.settings.broker.ledger_batch_wait_seconds, batch=True
            ),
            config=ConsumerConfig(
                durable_name=topology.ledger_consumer(partition),
                ack_policy=JsAckPolicy.EXPLICIT,
                max_ack_pending=size,
                ack_wait=app.settings.broker.ack_wait_seconds,
                filter_subject=topology.ledger_filter(partition),
            ),
            ack_policy=AckPolicy.MANUAL,
        )(handle)


@contextmanager
def fresh_store(database: str) -> Iterator[str]:
    """A new SQLite file in a temporary folder, or a new PostgreSQL schema dropped after."""
    if database.startswith("postgresql"):
        with postgres_schema(database, prefix="ff_bench") as url:
            yield url
    else:
        yield database.replace("{tmp}", tempfile.mkdtemp())


async def drain(broker: NatsBroker, app: Forwardflow) -> float:
    """Seconds until every partition's consumer has acknowledged everything."""
    started = time.perf_counter()
    while await ledger_backlog(broker, app.topology):
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def measure(
    label: str,
    prefix: str,
    partitions: int,
    changes: list[LedgerChange],
    register: Callable[[NatsBroker, Forwardflow], None],
    *,
    url: str,
    database: str,
) -> float:
    """Publish ``changes``, then time ``register``'s consumers draining them; return msg/s."""
    with fresh_store(database) as store:
        return await _measure(label, url, prefix, store, partitions, changes, register)


async def _measure(
    label: str,
    url: str,
    prefix: str,
    database: str,
    partitions: int,
    changes: list[LedgerChange],
    register: Callable[[NatsBroker, Forwardflow], None],
) -> float:
    settings = load_settings(
        data_dir=Path(tempfile.mkdtemp(prefix="ff-bench-")),
        database=DatabaseSettings(url=database),
        broker=BrokerSettings(url=url, stream_prefix=prefix, partitions=partitions),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    async with connect_broker(settings) as publisher:
        await publish_all(publisher.broker, app, changes)

    def make(servers: list[str]) -> NatsBroker:
        broker = NatsBroker(
            servers=servers,
            logger=logging.getLogger("forwardflow.broker"),
            log_level=logging.DEBUG,
        )
        register(broker, app)
        return broker

    async with connect_broker(settings, make, start=True) as running:
        seconds = await drain(running.broker, app)
        for name in running.streams:
            await running.broker.connection.jetstream().delete_stream(name)
    app.close()
    rate = len(changes) / seconds
    print(
        f"{label:<34} {len(changes):>7} events in {seconds:7.2f} s = {rate:9.1f} msg/s", flush=True
    )
    return rate


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--database",
        default="sqlite:///{tmp}/bench.db",
        help="SQLAlchemy URL for (b); {tmp} becomes a fresh temporary folder; on "
        "PostgreSQL each run gets a fresh schema",
    )
    parser.add_argument("--nats", default=None, help="NATS URL; default: the embedded server")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="(a), (b) and (c) this many times; the median of the (b)/(a) ratios is reported",
    )
    parser.add_argument(
        "--sizes",
        default="",
        help="comma-separated event counts, e.g. 10000,100000: (b) once at each, then "
        "flatness = events/s at the largest ÷ at the smallest",
    )
    args = parser.parse_args(argv)
    changes = history(args.events)
    settings = load_settings(
        data_dir=Path(tempfile.mkdtemp(prefix="ff-bench-nats-")),
        broker=BrokerSettings(url=args.nats),
    )
    async with nats_server(settings) as (url, _embedded):
        print(f"broker {url}, {args.partitions} partitions, database {args.database}")
        run = functools.partial(measure, url=url, database=args.database)
        ratios, shares = [], []
        for n in range(1, args.rounds + 1):
            bare = await run(
                f"(a) bare consumer, per message #{n}",
                f"BENCHA{n}",
                args.partitions,
                changes,
                register_bare,
            )
            ours = await run(
                f"(b) forwardflow handlers      #{n}", f"BENCHB{n}", args.partitions, changes, _ours
            )
            batched = await run(
                f"(c) bare consumer, batched    #{n}",
                f"BENCHC{n}",
                args.partitions,
                changes,
                register_bare_batched,
            )
            ratios.append(ours / bare)
            shares.append(ours / batched)
        if args.sizes:
            await _flatness(run, args.partitions, [int(n) for n in args.sizes.split(",")])
    print("round ratios: " + ", ".join(f"{r:.3f}" for r in ratios))
    print(
        f"(c) for information: forwardflow runs at {statistics.median(shares):.0%} "
        "of a bare batched consumer"
    )
    print(f"pipeline_ratio {statistics.median(ratios):.3f}")


def _ours(broker: NatsBroker, app: Forwardflow) -> None:
    register_ledger_subscribers(broker, app)


async def _flatness(
    run: Callable[..., Awaitable[float]], partitions: int, sizes: list[int]
) -> None:
    """(b) at each size on a fresh store; the cost per event should not grow with it."""
    rates = {}
    for size in sorted(sizes):
        rates[size] = await run(
            f"(b) at {size:,} events", f"BENCHS{size}", partitions, history(size), _ours
        )
    smallest, largest = min(rates), max(rates)
    print(
        f"flatness {rates[largest] / rates[smallest]:.3f} "
        f"(events/s at {largest:,} ÷ at {smallest:,})"
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
