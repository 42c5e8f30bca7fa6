"""Benchmark: ledger events per second with 1 and with 2 handler processes, on a cluster.

Starts a three-node NATS JetStream cluster on loopback (R3 streams) and uses a scratch
PostgreSQL schema. Per round and process count: publish N ledger events to fresh
streams, start that many ``forwardflow run --role handlers`` processes, and time until
every event is applied (counted in the inbox). Rounds alternate 1 and 2 processes; the
last line is the median ratio of the pair, ``scale_ratio <2 processes ÷ 1>``. It also
prints where the CPU time went (handler processes, NATS nodes, PostgreSQL backends) and
how busy the machine's cores were, since on a small machine that is the bound.

    python bench/scale.py [--events 10000] [--rounds 3] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import history, publish_all

from debtsale.changes import LedgerChange
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.runtime import connect_broker
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.store import upgrade
from forwardflow.store.tables import inbox
from testkit.cluster import NatsCluster
from testkit.databases import postgres_schema

FORWARDFLOW = str(Path(sys.executable).parent / "forwardflow")
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (0 for one that is gone)."""
    used = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used += (int(fields[11]) + int(fields[12])) / _TICKS
    return used


def postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (its backends do the database's work)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICKS, sum(values) / _TICKS


@contextmanager
def workers(app: Forwardflow, count: int, log: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")},
        "FORWARDFLOW_DATA_DIR": str(app.settings.data_dir),
        "FORWARDFLOW_DATABASE__URL": str(app.settings.database.url),
        "FORWARDFLOW_BROKER__URL": str(app.settings.broker.url),
        "FORWARDFLOW_BROKER__REPLICAS": "3",
        "FORWARDFLOW_BROKER__STREAM_PREFIX": app.settings.broker.stream_prefix,
        "FORWARDFLOW_LOG__LEVEL": "WARNING",
    }
    started = [
        subprocess.Popen(
            [FORWARDFLOW, "run", "--role", "handlers"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        for _ in range(count)
    ]
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=60)


def applied(app: Forwardflow) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(inbox)).scalar_one())


def measure(
    label: str,
    processes: int,
    cluster: NatsCluster,
    args: argparse.Namespace,
    events: list[LedgerChange],
) -> float:
    """Events per second for ``processes`` handler processes draining ``events``."""
    folder = Path(tempfile.mkdtemp(prefix="ff-scale-"))
    prefix = "S" + folder.name.replace("ff-scale-", "").upper().replace("-", "")[:10]
    with postgres_schema(args.database, prefix="ff_scale") as url:
        app = bootstrap(
            load_settings(
                data_dir=folder,
                database=DatabaseSettings(url=url),
                broker=BrokerSettings(url=cluster.urls, replicas=3, stream_prefix=prefix),
            )
        )
        upgrade(app.engine)
        asyncio.run(_publish(app, events))
        nats = [node.process.pid for node in cluster.nodes if node.process]
        postgres: dict[int, float] = {pid: cpu_seconds([pid]) for pid in postgres_pids()}
        postgres_then = sum(postgres.values())
        before = (cpu_seconds(nats), machine_busy())
        with workers(app, processes, folder / "workers.log") as running:
            ours = [p.pid for p in running]
            started = time.perf_counter()
            ours_cpu = 0.0
            while applied(app) < len(events):
                if any(p.poll() is not None for p in running):
                    raise SystemExit((folder / "workers.log").read_text()[-3000:])
                ours_cpu = cpu_seconds(ours)
                for pid in postgres_pids():  # backends come and go with connections
                    postgres[pid] = max(postgres.get(pid, 0.0), cpu_seconds([pid]))
                time.sleep(0.1)
            seconds = time.perf_counter() - started
        nats_cpu = cpu_seconds(nats) - before[0]
        postgres_cpu = sum(postgres.values()) - postgres_then
        busy, total = (a - b for a, b in zip(machine_busy(), before[1], strict=True))
        asyncio.run(_drop_streams(app))
        app.close()
    rate = len(events) / seconds
    cores = total / seconds if seconds else 0.0
    print(
        f"{label:<24} {len(events):>6} events in {seconds:6.2f} s = {rate:7.1f} events/s | "
        f"CPU s: handlers {ours_cpu:5.1f}, NATS {nats_cpu:5.1f}, PostgreSQL {postgres_cpu:5.1f}; "
        f"machine {busy / seconds:.2f} of {cores:.0f} cores busy",
        flush=True,
    )
    return rate


async def _publish(app: Forwardflow, events: list[LedgerChange]) -> None:
    async with connect_broker(app.settings) as publisher:
        await publish_all(publisher.broker, app, events)


async def _drop_streams(app: Forwardflow) -> None:
    async with connect_broker(app.settings) as connection:
        for name in connection.streams:
            await connection.broker.connection.jetstream().delete_stream(name)


def main(argv: list[str]) -> None:
    """Parse the options, start the cluster, measure the rounds, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="PostgreSQL URL; each measurement uses a scratch schema in it",
    )
    args = parser.parse_args(argv)
    events = history(args.events)
    with NatsCluster(Path(tempfile.mkdtemp(prefix="ff-scale-nats-"))) as cluster:
        print(f"NATS cluster {cluster.urls} (R3), PostgreSQL {args.database}, 4 partitions")
        ratios = []
        for round_number in range(1, args.rounds + 1):
            one = measure(f"1 process   #{round_number}", 1, cluster, args, events)
            two = measure(f"2 processes #{round_number}", 2, cluster, args, events)
            ratios.append(two / one)
    print("round ratios: " + ", ".join(f"{r:.3f}" for r in ratios))
    print(f"scale_ratio {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
