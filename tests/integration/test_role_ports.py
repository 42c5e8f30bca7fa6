"""Every role, as its own process on real NATS and PostgreSQL, serves health, readiness and
metrics on its own port; a broken dependency turns its /readyz 503 naming the check within
one poll interval, and back to 200 once healed (issue 14's acceptance)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from connectors.quickbooks.settings import QuickBooksSettings
from debtsale.agreement import sample_agreement_text
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
from emulators.sftp_buyer import LoopbackSftp
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.envelope import ledger_message
from forwardflow.broker.runtime import connect_broker
from forwardflow.companies import store_company
from forwardflow.net import free_port
from forwardflow.settings import BrokerSettings, DatabaseSettings, load_settings
from forwardflow.store import upgrade
from sftp.keys import ensure_ssh_key
from testkit.quickbooks import quickbooks
from testkit.quickbooks_api import MemoryTokenStore, connect_company
from tests.strategies import random_history

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

FORWARDFLOW = str(Path(sys.executable).parent / "forwardflow")
ROLES = ("handlers", "relay", "scheduler", "delivery", "http")
REALM = "4620816377"
POLL_S = 0.5
CATCH_UP_S = 0.6  # catch_up_minutes = 0.01
LAG_LIMIT = 3
SLACK_S = 5.0  # beyond one poll interval: a request's way and a loaded 2-core machine


class Roles:
    """The five role processes and where each listens."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.ports = {role: free_port() for role in ROLES}
        self.logs = logs
        self.processes = {
            role: subprocess.Popen(
                [FORWARDFLOW, "run", "--role", role],
                env={**env, "FORWARDFLOW_HTTP__PORT": str(self.ports[role])},
                stdout=(logs / f"{role}.log").open("ab"),
                stderr=subprocess.STDOUT,
            )
            for role in ROLES
        }

    def url(self, role: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}{path}"

    def log(self, role: str) -> str:
        return (self.logs / f"{role}.log").read_text(errors="replace")[-3000:]

    def get(self, role: str, path: str) -> httpx.Response | None:
        assert self.processes[role].poll() is None, self.log(role)
        try:
            return httpx.get(self.url(role, path), timeout=3)
        except httpx.HTTPError:
            return None

    def until(
        self, role: str, path: str, ok: Callable[[httpx.Response], bool], timeout: float
    ) -> float:
        began = time.monotonic()
        while True:
            answer = self.get(role, path)
            if answer is not None and ok(answer):
                return time.monotonic() - began
            assert time.monotonic() - began < timeout, (
                f"{role}{path} not as expected within {timeout} s: "
                f"{answer.status_code if answer else 'no answer'} "
                f"{answer.text[:1500] if answer else ''}\n{self.log(role)}"
            )
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _failing(check: str) -> Callable[[httpx.Response], bool]:
    def named(answer: httpx.Response) -> bool:
        if answer.status_code != 503:
            return False
        body = answer.json()
        return any(
            name.startswith(check)
            for name in body["checks"]
            if body["checks"][name]["status"] == "failing"
        )

    return named


def _ready(answer: httpx.Response) -> bool:
    return answer.status_code == 200 and answer.json()["status"] == "ready"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(Emulator()) as server:
        server.emulator.company(REALM)
        yield server


def _install(
    tmp_path: Path,
    pg_url: str,
    nats_url: str,
    prefix: str,
    server: EmulatorServer,
    buyer: LoopbackSftp,
) -> tuple[Forwardflow, dict[str, str]]:
    key = base64.b64encode(os.urandom(32)).decode()
    emulator = server.emulator
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")},
        "FORWARDFLOW_DATA_DIR": str(tmp_path / "data"),
        "FORWARDFLOW_SECRET_KEY": key,
        "FORWARDFLOW_DATABASE__URL": pg_url,
        "FORWARDFLOW_BROKER__URL": nats_url,
        "FORWARDFLOW_BROKER__STREAM_PREFIX": prefix,
        "FORWARDFLOW_HEALTH__POLL_SECONDS": str(POLL_S),
        "FORWARDFLOW_HEALTH__CONSUMER_LAG_LIMIT": str(LAG_LIMIT),
        "FORWARDFLOW_HEALTH__SFTP_TIMEOUT_SECONDS": "2",
        "FORWARDFLOW_HEALTH__SFTP_POLL_SECONDS": str(POLL_S),
        "FORWARDFLOW_DELIVERY__INBOX_POLL_SECONDS": "0",
        "FORWARDFLOW_QUICKBOOKS__CLIENT_ID": emulator.client_id,
        "FORWARDFLOW_QUICKBOOKS__CLIENT_SECRET": emulator.client_secret,
        "FORWARDFLOW_QUICKBOOKS__VERIFIER_TOKEN": emulator.verifier_token,
        "FORWARDFLOW_QUICKBOOKS__API_BASE_URL": server.api_url_v3,
        "FORWARDFLOW_QUICKBOOKS__DISCOVERY_URL": server.discovery_url,
        "FORWARDFLOW_QUICKBOOKS__CATCH_UP_MINUTES": str(CATCH_UP_S / 60),
        "FORWARDFLOW_LOG__LEVEL": "WARNING",
    }
    settings = load_settings(
        data_dir=tmp_path / "data",
        secret_key=SecretStr(key),
        database=DatabaseSettings(url=pg_url),
        broker=BrokerSettings(url=nats_url, stream_prefix=prefix),
        quickbooks=QuickBooksSettings(
            client_id=emulator.client_id,
            client_secret=SecretStr(emulator.client_secret),
            verifier_token=SecretStr(emulator.verifier_token),
            api_base_url=server.api_url_v3,
            discovery_url=server.discovery_url,
        ),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    tokens = MemoryTokenStore()
    connect_company(server, REALM, tokens)
    store_company(quickbooks(app), REALM, tokens.load(REALM))
    delivery = (
        '\n[delivery]\nhost = "127.0.0.1"\n'
        f'port = {buyer.port}\nusername = "acme"\nhost_key = "{buyer.pin}"\n'
        'buyer_certificate = "acme.asc"\n'
    )
    with app.unit_of_work() as uow:
        uow.agreements.add(sample_agreement_text() + delivery)
        uow.commit()
    return app, env


def _status_json(env: dict[str, str]) -> dict[str, Any]:
    shown = subprocess.run(
        [FORWARDFLOW, "status", "--json"], env=env, capture_output=True, text=True, check=False
    )
    document: dict[str, Any] = json.loads(shown.stdout)
    return document


async def _publish(app: Forwardflow, count: int) -> None:
    book = random_history(random.Random(14), count)
    async with connect_broker(app.settings) as connection:
        jetstream = connection.broker.connection.jetstream()
        for change in book.changes[:count]:
            subject, body, headers = ledger_message(app.topology, "realm-ops", change)
            await jetstream.publish(subject, body, headers=headers)


async def _drop_streams(app: Forwardflow) -> None:
    async with connect_broker(app.settings) as connection:
        for name in connection.streams:
            await connection.broker.connection.jetstream().delete_stream(name)


def test_every_role_is_observable_on_its_own_port_and_readiness_follows_its_dependencies(
    tmp_path: Path, pg_url: str, nats_url: str, stream_prefix: str, emulator: EmulatorServer
) -> None:
    public = ensure_ssh_key(tmp_path / "client")
    buyer = LoopbackSftp(tmp_path / "buyer", "acme", public).start()
    app, env = _install(tmp_path, pg_url, nats_url, stream_prefix, emulator, buyer)
    roles = Roles(env, tmp_path)
    locker = create_engine(pg_url)
    try:
        for role in ROLES:  # alive, ready (a JSON body naming each check), and scraped
            roles.until(role, "/healthz", lambda a: a.status_code == 200, 60)
            roles.until(role, "/readyz", _ready, 30)
            body = roles.get(role, "/readyz")
            assert body is not None
            assert {"store", "broker"} <= set(body.json()["checks"])
            metrics = roles.get(role, "/metrics")
            assert metrics is not None
            assert metrics.status_code == 200
            assert "forwardflow_platform_calls_total" in metrics.text
        catch_up = roles.get("scheduler", "/readyz")
        assert catch_up is not None
        assert f"catch-up:quickbooks:{REALM}" in catch_up.json()["checks"]

        # the buyer's SFTP endpoint stops: the delivery role is not ready, naming the buyer
        port = buyer.port
        buyer.stop()
        took = roles.until("delivery", "/readyz", _failing("buyer-sftp:"), POLL_S + SLACK_S)
        print(f"buyer SFTP down → delivery /readyz 503 in {took:.2f} s")
        buyer = LoopbackSftp(tmp_path / "buyer", "acme", public, port=port).start()
        took = roles.until("delivery", "/readyz", _ready, POLL_S + SLACK_S)
        print(f"buyer SFTP back → delivery /readyz 200 in {took:.2f} s")

        # QuickBooks answers every call with a fault: catch-up fails, the scheduler says so
        emulator.emulator.inject("5010", path="/v3/", times=100_000)
        took = roles.until(
            "scheduler",
            "/readyz",
            _failing(f"catch-up:quickbooks:{REALM}"),
            POLL_S + CATCH_UP_S + SLACK_S,
        )
        print(f"catch-up failing → scheduler /readyz 503 in {took:.2f} s")
        emulator.emulator.faults.clear()
        took = roles.until("scheduler", "/readyz", _ready, POLL_S + CATCH_UP_S + SLACK_S)
        print(f"catch-up healed → scheduler /readyz 200 in {took:.2f} s")

        # a stalled consumer (its writes blocked by a lock): the handlers role is not ready
        with locker.connect() as connection:
            connection.execute(text("LOCK TABLE inbox IN EXCLUSIVE MODE"))
            asyncio.run(_publish(app, 3 * LAG_LIMIT))
            took = roles.until("handlers", "/readyz", _failing("consumer-lag:"), POLL_S + SLACK_S)
            print(f"consumer stalled → handlers /readyz 503 in {took:.2f} s")
            stalled = _status_json(env)
            lagging = [c for c in stalled["consumers"] if c["pending"] + c["ack_pending"]]
            assert sum(c["pending"] + c["ack_pending"] for c in lagging) == 3 * LAG_LIMIT
            assert all(c["oldest_unacked_age_seconds"] is not None for c in lagging)
            assert any(c["ack_pending"] for c in lagging)  # delivered, stuck in the handler
            assert stalled["dead_letters"] == 0
            connection.rollback()
        took = roles.until("handlers", "/readyz", _ready, POLL_S + 2 * SLACK_S)
        print(f"consumer drained → handlers /readyz 200 in {took:.2f} s")
        metrics = roles.get("handlers", "/metrics")
        assert metrics is not None
        assert "faststream_received_messages_total" in metrics.text

        # `forwardflow status --json`: consumers, the platform company, the buyer
        document = _status_json(env)
        assert all(c["pending"] + c["ack_pending"] == 0 for c in document["consumers"])
        (company,) = document["platform_companies"]
        assert company["company_id"] == REALM
        assert company["last_catch_up"] is not None
        assert company["token_expires_at"] is not None
        (buyer_row,) = document["buyers"]
        assert buyer_row["agreement_id"]
        assert "last_delivery" in buyer_row
        assert "last_inbox_poll" in buyer_row
    finally:
        roles.stop()
        buyer.stop()
        locker.dispose()
        asyncio.run(_drop_streams(app))
        app.close()
