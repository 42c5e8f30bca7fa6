"""The main job end to end on embedded defaults, as ``make demo`` runs it.

At this stage it brings up the store and the broker and proves the path every later
step rides on: a unit of work commits an event to the outbox, the relay publishes it
to JetStream with its event id, and a second relay of the same id is dropped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.relay import relay_pending
from forwardflow.broker.runtime import connect_broker
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.status import BrokerStatus, StoreStatus, broker_status, store_status
from forwardflow.store import upgrade

__all__ = ["DemoResult", "prepare_workdir", "run_demo"]

MARKER = ".forwardflow-demo"
SUMMARY = "demo-summary.json"


class DemoError(RuntimeError):
    """The demo cannot run in the given place."""


@dataclass
class DemoResult:
    """What the demo started and checked."""

    workdir: Path
    store: StoreStatus | None = None
    broker: BrokerStatus | None = None
    outbox_event_id: str | None = None
    broker_pid_stopped: bool = False
    steps: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON summary written to ``demo-summary.json``."""
        return {
            "workdir": str(self.workdir),
            "store": asdict(self.store) if self.store else None,
            "broker": asdict(self.broker) if self.broker else None,
            "outbox_event_id": self.outbox_event_id,
            "embedded_broker_stopped": self.broker_pid_stopped,
            "steps": self.steps,
        }


def prepare_workdir(workdir: Path) -> None:
    """Create the work directory, clearing a previous demo's; refuse to clear anything else."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise DemoError(
                f"{workdir} is not empty and was not made by the demo; choose another --workdir"
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("made by forwardflow demo; cleared on the next run\n")


def _pid_gone(pid: int | None) -> bool:
    if pid is None:
        return True
    return not Path(f"/proc/{pid}").exists()


async def run_demo(workdir: Path, step: Callable[[str], None] = lambda _: None) -> DemoResult:
    """Run the demo in ``workdir`` (SQLite, embedded NATS); ``step`` is told each step."""
    prepare_workdir(workdir)
    result = DemoResult(workdir=workdir.resolve())

    def done(message: str) -> None:
        result.steps.append(message)
        step(message)

    settings = load_settings(
        data_dir=workdir / "data", database=DatabaseSettings(), broker=BrokerSettings()
    )
    app: Forwardflow = bootstrap(settings)
    try:
        upgrade(app.engine)
        result.store = store_status(app)
        done(f"state store ready: {result.store.backend}, schema {result.store.revision}")

        async with connect_broker(settings) as connection:
            done(f"embedded NATS JetStream started at {connection.url}")
            event_id = "demo-started"
            with app.unit_of_work() as uow:
                uow.outbox.add(
                    event_id=event_id,
                    subject=app.topology.event_subject("DemoStarted"),
                    payload={"event_id": event_id, "workdir": str(result.workdir)},
                )
                uow.commit()
            sent = await relay_pending(app.unit_of_work, connection.broker, app.topology)
            done(f"outbox relayed {sent} event(s) to JetStream")
            jetstream = connection.broker.connection.jetstream()
            ack = await jetstream.publish(
                app.topology.event_subject("DemoStarted"),
                b"{}",
                headers={"Nats-Msg-Id": event_id},
            )
            if not ack.duplicate:
                raise DemoError("JetStream did not drop a second publish of the same event id")
            done("a second publish of the same event id was dropped by the broker")
            result.outbox_event_id = event_id
            result.broker = await broker_status(connection)
            pid = connection.embedded.pid if connection.embedded else None
        result.broker_pid_stopped = _pid_gone(pid)
        done("embedded broker stopped" + ("" if result.broker_pid_stopped else " (STILL RUNNING)"))
    finally:
        app.close()
    (workdir / SUMMARY).write_text(json.dumps(result.summary(), indent=2, default=str))
    return result
