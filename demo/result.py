"""What the demo produces: its result and summary, its errors, and the folder it owns."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from debtsale.reports import ReconciliationReport
from debtsale.valuation import ValuationReport
from forwardflow.status import BrokerStatus, StoreStatus

__all__ = ["MARKER", "DemoError", "DemoResult", "prepare_workdir"]

MARKER = ".forwardflow-demo"


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
