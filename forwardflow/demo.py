"""The main job end to end on embedded defaults, as ``make demo`` runs it.

A synthetic firm's ledger goes through the real path: published to the embedded NATS
JetStream, applied by the ledger subscribers into SQLite exactly once, valued, cut
into a sale under the sample agreement, reconciled against last-minute payments that
arrive through the same pipeline, closed, and its events relayed from the outbox.
The QuickBooks emulator, SFTP delivery and put-backs join as their issues land.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from faststream.nats import NatsBroker

from debtsale.agreement import Agreement, sample_agreement_text
from debtsale.changes import LedgerChange
from debtsale.journal import sale_entry
from debtsale.portfolio import Portfolio
from debtsale.reports import ReconciliationReport, as_data
from debtsale.valuation import ValuationReport, value_receivables
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.envelope import ledger_message
from forwardflow.broker.relay import relay_pending
from forwardflow.broker.runtime import BrokerConnection, connect_broker
from forwardflow.broker.subscribers import build_broker, ledger_backlog
from forwardflow.demo_firm import last_minute_payments, seed_firm
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.status import BrokerStatus, StoreStatus, broker_status, store_status
from forwardflow.store import upgrade

__all__ = ["CLOSING", "CUTOFF", "DemoError", "DemoResult", "prepare_workdir", "run_demo"]

MARKER = ".forwardflow-demo"
SUMMARY = "demo-summary.json"
CUTOFF = date(2026, 10, 31)
CLOSING = date(2026, 11, 13)

Progress = Callable[[str, int, int], None]


class DemoError(RuntimeError):
    """The demo cannot run in the given place, or a check it makes failed."""


@dataclass
class DemoResult:
    """What the demo started, produced and checked."""

    workdir: Path
    store: StoreStatus | None = None
    broker: BrokerStatus | None = None
    valuation: ValuationReport | None = None
    reconciliation: ReconciliationReport | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    broker_pid_stopped: bool = False
    steps: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON summary written to ``demo-summary.json``."""
        return {
            "workdir": str(self.workdir),
            "files": self.files,
            "figures": self.figures,
            "store": asdict(self.store) if self.store else None,
            "broker": asdict(self.broker) if self.broker else None,
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


async def _drained(
    connection: BrokerConnection, app: Forwardflow, total: int, progress: Progress, label: str
) -> None:
    """Wait until every ledger consumer has acknowledged everything, reporting progress."""
    while True:
        busy = await ledger_backlog(connection.broker, app.topology)
        progress(label, total - busy, total)
        if busy == 0:
            return
        await asyncio.sleep(0.1)


async def _deliver(
    connection: BrokerConnection,
    app: Forwardflow,
    tenant: str,
    changes: list[LedgerChange],
    progress: Progress,
    label: str,
) -> None:
    jetstream = connection.broker.connection.jetstream()
    for done, change in enumerate(changes, start=1):
        subject, body, headers = ledger_message(app.topology, tenant, change)
        await jetstream.publish(subject, body, headers=headers)
        if done % 250 == 0 or done == len(changes):
            progress(f"publishing {label}", done, len(changes))
    await _drained(connection, app, len(changes), progress, f"applying {label}")


def _write_outputs(result: DemoResult, portfolio: Portfolio, workdir: Path) -> None:
    reconciliation = ReconciliationReport.of(portfolio)
    result.reconciliation = reconciliation
    out = workdir / "out"
    out.mkdir(exist_ok=True)
    json_path = out / f"reconciliation-{portfolio.id}.json"
    json_path.write_text(json.dumps(as_data(reconciliation), indent=2))
    csv_path = out / f"reconciliation-{portfolio.id}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(reconciliation.csv_rows())
    journal_path = out / f"journal-{portfolio.id}.json"
    journal_path.write_text(json.dumps([as_data(sale_entry(portfolio))], indent=2))
    result.files.update(
        reconciliation_json=str(json_path.resolve()),
        reconciliation_csv=str(csv_path.resolve()),
        journal_entries=str(journal_path.resolve()),
    )
    result.figures.update(
        receivables_sold=reconciliation.sold,
        receivables_removed=reconciliation.removed,
        total_face=str(portfolio.total_face.amount),
        total_price=str(portfolio.total_price.amount),
        refunds=str(portfolio.refunds.amount),
        loss_on_sale=str(portfolio.loss_on_sale.amount),
        currency=portfolio.currency,
    )


async def run_demo(
    workdir: Path,
    step: Callable[[str], None] = lambda _: None,
    progress: Progress = lambda _label, _done, _total: None,
) -> DemoResult:
    """Run the demo in ``workdir`` (SQLite, embedded NATS); ``step`` hears each milestone."""
    prepare_workdir(workdir)
    result = DemoResult(workdir=workdir.resolve())

    def done(message: str) -> None:
        result.steps.append(message)
        step(message)

    settings = load_settings(
        data_dir=workdir / "data", database=DatabaseSettings(), broker=BrokerSettings()
    )
    app = bootstrap(settings)
    agreement = Agreement.from_toml(sample_agreement_text())
    try:
        upgrade(app.engine)
        result.store = store_status(app)
        done(f"state store ready: {result.store.backend}, schema {result.store.revision}")
        firm = seed_firm(as_of=CLOSING)
        tenant = firm.ledger.tenant
        done(f"synthetic firm: {len(firm.changes):,} ledger changes over three years")

        def make(servers: list[str]) -> NatsBroker:
            return build_broker(app, servers)

        async with connect_broker(settings, make, start=True) as connection:
            done(f"embedded NATS JetStream started at {connection.url}")
            await _deliver(connection, app, tenant, list(firm.changes), progress, "ledger")
            with app.unit_of_work() as uow:
                ledger = uow.ledger.load(tenant)
            if ledger.snapshot() != firm.ledger.snapshot():
                raise DemoError("the store's ledger differs from the firm's")
            done("ledger applied through the broker, exactly once: store equals the firm's books")

            result.valuation = value_receivables(ledger, agreement, CUTOFF)
            done(f"valued {result.valuation.count:,} eligible receivables under {agreement.id}")
            portfolio = Portfolio.cut("P-2026-10", agreement, ledger, CUTOFF)
            done(
                f"cut portfolio {portfolio.id}: {len(portfolio.lines):,} receivables, face "
                f"{portfolio.total_face_at_cutoff.amount:,}, price "
                f"{portfolio.total_price_at_cutoff.amount:,} {portfolio.currency}"
            )

            late = last_minute_payments(firm, sorted(portfolio.lines), paid_on=date(2026, 11, 6))
            await _deliver(connection, app, tenant, late, progress, "last-minute payments")
            with app.unit_of_work() as uow:
                ledger = uow.ledger.load(tenant)
            done(f"{len(late)} last-minute payments arrived between cut-off and closing")

            portfolio.close(agreement, ledger, CLOSING)
            with app.unit_of_work() as uow:
                for event in portfolio.pull_events():
                    uow.outbox.add(
                        event_id=event.event_id,
                        subject=app.topology.event_subject(type(event).__name__),
                        payload=as_data(event),
                    )
                uow.commit()
            sent = await relay_pending(app.unit_of_work, connection.broker, app.topology)
            done(f"closed {portfolio.id}; {sent} domain events relayed from the outbox")
            _write_outputs(result, portfolio, workdir)
            result.broker = await broker_status(connection)
            pid = connection.embedded.pid if connection.embedded else None
        result.broker_pid_stopped = pid is None or not Path(f"/proc/{pid}").exists()
        done("embedded broker stopped" + ("" if result.broker_pid_stopped else " (STILL RUNNING)"))
    finally:
        app.close()
    summary = workdir / SUMMARY
    result.files["summary"] = str(summary.resolve())
    summary.write_text(json.dumps(result.summary(), indent=2, default=str))
    return result
