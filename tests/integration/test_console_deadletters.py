"""Operators see and replay dead letters in the console, once; other roles may not."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from forwardflow.bootstrap import bootstrap
from forwardflow.broker.bus import Bus
from forwardflow.broker.deadletter import dead_letter, list_dead_letters
from forwardflow.broker.runtime import connect_broker
from forwardflow.console import console_app
from forwardflow.console.store import Role, add_user, audit_page
from forwardflow.settings import load_settings
from forwardflow.store import upgrade

pytestmark = [pytest.mark.nats, pytest.mark.anyio]

PASSWORD = "a long password"


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    form = (await client.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert answer.status_code == 303, answer.text


async def test_an_operator_replays_a_dead_letter_once(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    app = bootstrap(settings)
    upgrade(app.engine)
    add_user(app.engine, "ops@example.com", Role.OPERATOR, PASSWORD)
    add_user(app.engine, "view@example.com", Role.VIEWER, PASSWORD)
    try:
        async with connect_broker(settings) as connection:
            await dead_letter(
                connection.broker,
                app.topology,
                consumer="FF_ledger_0",
                subject=app.topology.ledger_subject("realm-1", 0),
                headers={"event_id": "evt-0", "Nats-Msg-Id": "evt-0"},
                body=b"{not json",
                reason="DomainError: [envelope.json] broken",
                delivered=1,
                stream_seq=1,
            )
            web = console_app(app, Bus(connection.broker, app.topology))
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://ff") as viewer:
                await _sign_in(viewer, "view@example.com")
                assert (await viewer.get("/deadletters")).status_code == 403
            async with httpx.AsyncClient(transport=transport, base_url="http://ff") as client:
                await _sign_in(client, "ops@example.com")
                page = (await client.get("/deadletters")).text
                assert "evt-0" in page
                assert "envelope.json" in page
                action = re.search(r'action="(/deadletters/\d+/replay)"', page)
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
                command = re.search(r'name="command_id" value="([^"]+)"', page)
                assert action
                assert csrf
                assert command
                form = {"csrf_token": csrf[1], "command_id": command[1]}
                first = await client.post(action[1], data=form)
                again = await client.post(action[1], data=form)
                assert first.status_code == again.status_code == 303
                assert "replayed" in first.headers["location"]
                assert "already" in again.headers["location"]
            assert await list_dead_letters(connection.broker, app.topology) == []
        rows, _count = audit_page(app.engine, 0, 10)
        assert [(r.actor, r.action) for r in rows if r.action != "sign-in"] == [
            ("ops@example.com", "replay dead letter")
        ]
    finally:
        app.close()
