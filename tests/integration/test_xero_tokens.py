"""Rotating refresh tokens through forwardflow's own store: one refresh at a time per
organisation even across processes (threads here stand for processes: each bypasses the
client's in-process lock and goes straight to the store's ``rotate``), sealed at rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.platform import Tokens
from emulators.xero.app import XeroEmulator
from emulators.xero.server import XeroServer
from forwardflow.bootstrap import bootstrap
from forwardflow.companies import store_company
from forwardflow.settings import DatabaseSettings, load_settings
from forwardflow.store import upgrade
from testkit.xero import xero

TENANT = "3f2f0c0c-c6d4-41fd-b238-717f2bfcf777"


@pytest.fixture
def server() -> Iterator[XeroServer]:
    with XeroServer(XeroEmulator()) as running:
        yield running


def _tokens(n: int) -> Tokens:
    now = datetime.now(UTC)
    return Tokens(
        f"a{n}", f"refresh-token-{n}", now + timedelta(minutes=30), now + timedelta(days=60)
    )


def test_concurrent_rotations_of_one_organisation_refresh_once(
    db_url: str, tmp_path: Path, server: XeroServer
) -> None:
    settings = load_settings(
        data_dir=tmp_path, database=DatabaseSettings(url=db_url), xero=server.settings()
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    wired = xero(app)
    store_company(wired, TENANT, _tokens(0))
    calls: list[str] = []
    lock = threading.Lock()  # SQLite: the caller's lock (one process per file)

    def slow_refresh(held: Tokens) -> Tokens:
        calls.append(held.refresh_token)
        time.sleep(0.3)  # the identity server taking its time while others queue
        return _tokens(len(calls))

    def rotate() -> None:
        if app.engine.dialect.name == "sqlite":
            with lock:
                wired.tokens.rotate(TENANT, "a0", slow_refresh)
        else:  # no process lock: the row lock alone must serialise
            wired.tokens.rotate(TENANT, "a0", slow_refresh)

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["refresh-token-0"]  # refreshed once; nobody sent a spent refresh token
    assert wired.tokens.load(TENANT).refresh_token == "refresh-token-1"
    with app.unit_of_work() as uow:
        sealed = uow.connection.exec_driver_sql(
            "SELECT tokens FROM platform_companies"
        ).scalar_one()
    assert b"refresh-token-1" not in bytes(sealed)
