"""A forward-flow tranche due with nothing eligible is never cut silently: a log line and
a metric, and with ``schedule.empty_tranche = "report"`` a warning and a mark that
``forwardflow status`` shows."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from debtsale.agreement import sample_agreement_text
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.marks import marks
from forwardflow.metrics import Metrics
from forwardflow.operations_status import buyers_status
from forwardflow.service import _schedule_forever
from forwardflow.settings import DatabaseSettings, ScheduleSettings, load_settings
from forwardflow.store import upgrade

FLOW = (
    sample_agreement_text()
    .replace('id = "acme-spot-2026"', 'id = "acme-flow"')
    .replace(
        'kind = "spot"',
        'kind = "forward_flow"\nperiod = "monthly"\nstarts_on = 2025-01-01\ntenant = "realm-empty"',
    )
)
DELIVERY = (
    '\n[delivery]\nhost = "127.0.0.1"\nport = 2222\nusername = "acme"\n'
    'host_key = "SHA256:abc"\nbuyer_certificate = "acme.asc"\n'
)


def _app(tmp_path: Path, policy: str) -> Forwardflow:
    app = bootstrap(
        load_settings(
            data_dir=tmp_path,
            database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'ff.db'}"),
            schedule=ScheduleSettings(interval_seconds=60, empty_tranche=policy),  # type: ignore[arg-type]
        )
    )
    upgrade(app.engine)
    with app.unit_of_work() as uow:
        uow.agreements.add(FLOW + DELIVERY)
        uow.commit()
    return app


async def _one_round(app: Forwardflow, metrics: Metrics) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_schedule_forever(app, stop, metrics))
    for _ in range(200):
        if metrics.registry.get_sample_value(
            "forwardflow_tranches_empty_total", {"agreement": "acme-flow"}
        ):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task


@pytest.mark.parametrize("policy", ["skip", "report"])
def test_an_empty_tranche_is_skipped_with_a_log_line_and_a_metric(
    tmp_path: Path, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(tmp_path, policy)
    metrics = Metrics()
    caplog.set_level(logging.INFO, logger="forwardflow.service")
    try:
        asyncio.run(_one_round(app, metrics))
        counted = metrics.registry.get_sample_value(
            "forwardflow_tranches_empty_total", {"agreement": "acme-flow"}
        )
        assert counted == 1
        (line,) = [r for r in caplog.records if "tranche skipped: nothing to cut" in r.message]
        assert line.levelno == (logging.WARNING if policy == "report" else logging.INFO)
        with app.unit_of_work() as uow:
            assert uow.portfolios.list() == []  # nothing was cut
        reported = [m for m in marks(app, "tranche:") if m.failing]
        (buyer,) = buyers_status(app)
        if policy == "report":
            assert [m.name for m in reported] == ["tranche:acme-flow"]
            assert "empty tranche" in (buyer["empty_tranche"] or "")
        else:
            assert reported == []
            assert buyer["empty_tranche"] is None
    finally:
        app.close()
