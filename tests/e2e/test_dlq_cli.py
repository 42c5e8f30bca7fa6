"""``forwardflow dlq`` as an operator uses it, on the embedded broker's storage."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from forwardflow.broker.deadletter import dead_letter
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.topology import Topology
from forwardflow.settings import load_settings
from tests.e2e.test_cli import run

pytestmark = pytest.mark.nats


def _park_two(data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir)
    topology = Topology()

    async def park() -> None:
        async with connect_broker(settings) as connection:
            for n, body in enumerate([b"{not json", b'{"type": "Nope"}']):
                await dead_letter(
                    connection.broker,
                    topology,
                    consumer="FF_ledger_0",
                    subject=topology.ledger_subject("realm-1", 0),
                    headers={"event_id": f"evt-{n}", "Nats-Msg-Id": f"evt-{n}"},
                    body=body,
                    reason=f"DomainError: [envelope.json] broken {n}",
                    delivered=1,
                    stream_seq=n + 1,
                )

    asyncio.run(park())


def test_list_show_replay_and_purge(tmp_path: Path) -> None:
    empty = run("dlq", "list", cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "no dead letters" in empty.stdout

    _park_two(tmp_path / ".forwardflow")
    listed = run("dlq", "list", "--json", cwd=tmp_path)
    letters = json.loads(listed.stdout)
    assert [letter["event_id"] for letter in letters] == ["evt-0", "evt-1"]
    assert "envelope.json" in letters[0]["reason"]

    table = run("dlq", "list", cwd=tmp_path)
    assert "2 dead letter(s)" in table.stdout
    shown = run("dlq", "show", str(letters[1]["id"]), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert '"Nope"' in shown.stdout
    assert "ff.ledger.realm-1.0" in shown.stdout

    replayed = run("dlq", "replay", str(letters[0]["id"]), cwd=tmp_path)
    assert "replayed 1" in replayed.stdout
    remaining = json.loads(run("dlq", "list", "--json", cwd=tmp_path).stdout)
    assert [letter["event_id"] for letter in remaining] == ["evt-1"]

    missing = run("dlq", "show", "999", cwd=tmp_path)
    assert missing.returncode == 1
    assert "no dead letter 999" in missing.stderr

    purged = run("dlq", "purge", "--yes", cwd=tmp_path)
    assert "purged 1" in purged.stdout
    assert "no dead letters" in run("dlq", "list", cwd=tmp_path).stdout


def test_replay_needs_an_id_or_all(tmp_path: Path) -> None:
    result = run("dlq", "replay", cwd=tmp_path)
    assert result.returncode == 2
    assert "give an ID or --all" in result.stderr
