"""The console's rows on each database, and its cookie over http and behind https."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from forwardflow.bootstrap import bootstrap
from forwardflow.console import console_app
from forwardflow.console.store import (
    Role,
    add_user,
    audit_page,
    check_password,
    end_session,
    record_audit,
    session_of,
    start_session,
)
from forwardflow.settings import load_settings
from forwardflow.store import upgrade


def test_users_sessions_and_the_audit_trail(migrated_engine: Engine) -> None:
    add_user(migrated_engine, "A@Example.com ", Role.VIEWER, "first password")
    add_user(migrated_engine, "a@example.com", Role.CONTROLLER, "second password")
    assert check_password(migrated_engine, "a@example.com", "first password") is None
    assert check_password(migrated_engine, "A@example.com", "second password") is Role.CONTROLLER
    assert check_password(migrated_engine, "b@example.com", "second password") is None
    token, csrf = start_session(migrated_engine, "a@example.com")
    session = session_of(migrated_engine, token)
    assert session is not None
    assert (session.email, session.role, session.csrf) == ("a@example.com", Role.CONTROLLER, csrf)
    end_session(migrated_engine, token)
    assert session_of(migrated_engine, token) is None
    assert record_audit(migrated_engine, "a@example.com", "cut", "P1", "applied", command_id="c1")
    assert not record_audit(
        migrated_engine, "a@example.com", "cut", "P1", "applied", command_id="c1"
    )
    assert record_audit(migrated_engine, "a@example.com", "sign-in", "", "ok")
    rows, count = audit_page(migrated_engine, 0, 10)
    assert count == 2
    assert [r.action for r in rows] == ["sign-in", "cut"]


def _sign_in(client: TestClient) -> str:
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = client.post(
        "/login",
        data={"email": "c@example.com", "password": "a long password", "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return answer.headers["set-cookie"]


@pytest.mark.parametrize("base", ["http://testserver", "https://testserver"])
def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(
    tmp_path: Path, base: str
) -> None:
    app = bootstrap(load_settings(data_dir=tmp_path))
    try:
        upgrade(app.engine)
        add_user(app.engine, "c@example.com", Role.CONTROLLER, "a long password")
        cookie = _sign_in(TestClient(console_app(app), base_url=base)).lower()
        assert "ff_console=" in cookie
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert ("secure" in cookie.split("ff_login")[0]) is base.startswith("https")
    finally:
        app.close()


@pytest.mark.nats
@pytest.mark.anyio
async def test_the_service_serves_the_console_at_the_root_beside_its_probes(
    tmp_path: Path, nats_url: str
) -> None:
    import httpx
    from faststream.nats import NatsBroker

    from forwardflow.broker.bus import Bus
    from forwardflow.settings import BrokerSettings
    from forwardflow.web import http_app

    app = bootstrap(load_settings(data_dir=tmp_path, broker=BrokerSettings(url=nats_url)))
    upgrade(app.engine)
    broker = NatsBroker(servers=[nats_url])
    await broker.connect()
    try:
        web = http_app(app, Bus(broker, app.topology))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web), base_url="http://ff"
        ) as client:
            assert (await client.get("/healthz")).json() == {"status": "alive"}
            assert (await client.get("/login")).status_code == 200
            assert (await client.get("/static/htmx.min.js")).status_code == 200
            assert (await client.get("/portfolios")).headers["location"] == "/login"
            assert (await client.post("/cut")).status_code == 401
    finally:
        await broker.stop()
        app.close()
