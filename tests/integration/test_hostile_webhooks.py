"""Signed webhooks that hurt, against the running service: a 10,000-entity flood is
answered at once and a real payment behind it is applied in seconds; random signed JSON
never gets a 5xx through the whole path (store look-up, JetStream publish)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.quickbooks.client import Tokens
from connectors.quickbooks.platform import QuickBooks
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.quickbooks.webhook import sign
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.runtime import connect_broker
from forwardflow.companies import backfill_company, store_company
from forwardflow.net import free_port
from forwardflow.settings import (
    BrokerSettings,
    DatabaseSettings,
    HttpSettings,
    ScheduleSettings,
    load_settings,
)
from forwardflow.store import upgrade
from testkit import external_nats_url, require
from testkit.quickbooks import connect_in_browser, quickbooks
from testkit.service import eventually
from testkit.service import running_service as serving

pytestmark = [pytest.mark.nats]
REALM = "4620816365"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    emulator = Emulator(retry_scale=0.01)
    company = emulator.company(REALM)
    customer = company.add_customer("Red Rock Diner")
    company.add_invoice(customer["Id"], "500.00", date(2025, 1, 2))
    with EmulatorServer(emulator) as server:
        yield server


@pytest.fixture
def app(
    tmp_path: Path, sqlite_url: str, nats_url: str, stream_prefix: str, emulator: EmulatorServer
) -> Iterator[Forwardflow]:
    port = free_port()
    fake = emulator.emulator
    settings = load_settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=sqlite_url),
        broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix, ack_wait_seconds=5),
        http=HttpSettings(port=port),
        schedule=ScheduleSettings(interval_seconds=0),
        quickbooks=QuickBooksSettings(
            client_id=fake.client_id,
            client_secret=SecretStr(fake.client_secret),
            verifier_token=SecretStr(fake.verifier_token),
            redirect_uri=f"http://127.0.0.1:{port}/callback/quickbooks",
            api_base_url=emulator.api_url_v3,
            discovery_url=emulator.discovery_url,
            catch_up_minutes=0,
        ),
    )
    app = bootstrap(settings)
    upgrade(app.engine)
    fake.webhook_url = f"http://127.0.0.1:{port}/webhooks/quickbooks"
    yield app
    app.close()


@pytest.fixture
async def service(app: Forwardflow) -> AsyncIterator[str]:
    async with serving(app) as base:
        yield base


def _balance(app: Forwardflow, invoice_id: str) -> Decimal | None:
    with app.unit_of_work() as uow:
        receivable = uow.ledger.load(QuickBooks().tenant_of(REALM)).receivable(invoice_id)
    return receivable.balance.amount if receivable else None


@pytest.mark.anyio
async def test_a_10000_entity_flood_is_answered_at_once_and_a_payment_behind_it_lands_fast(
    app: Forwardflow, emulator: EmulatorServer, service: str
) -> None:
    assert (await connect_in_browser(app)).status_code == 200
    company = emulator.emulator.company(REALM)
    async with connect_broker(app.settings) as connection:
        await backfill_company(quickbooks(app, connection.broker), REALM)
    invoice = company.all("Invoice")[0]
    await eventually(lambda: _balance(app, invoice["Id"]) == Decimal("500.00"), 30, poll=0.05)

    flood = [
        {
            "specversion": "1.0",
            "id": f"flood-{n}",
            "type": "qbo.invoice.updated.v1",
            "time": "2026-01-01T00:00:00Z",
            "intuitentityid": str(500_000 + n),
            "intuitaccountid": REALM,
        }
        for n in range(10_000)
    ]
    body = json.dumps(flood, separators=(",", ":")).encode()
    headers = {"intuit-signature": sign(body, emulator.emulator.verifier_token)}
    async with httpx.AsyncClient(timeout=30) as client:
        began = time.monotonic()
        answer = await client.post(f"{service}/webhooks/quickbooks", content=body, headers=headers)
        answered = time.monotonic() - began
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 10_000, "dropped": 0, "published": 1}
    assert answered < 1.0, f"answered in {answered:.2f} s"

    # a real payment, after the flood: its webhook is queued behind the flood's notice
    customer = invoice["CustomerRef"]["value"]
    company.post_payment(customer, date(2025, 3, 1), {invoice["Id"]: "200.00"})
    applied = await eventually(
        lambda: _balance(app, invoice["Id"]) == Decimal("300.00"), 10, poll=0.05
    )
    print(f"flood answered in {answered:.3f} s; payment applied {applied:.2f} s later")


# ------------------------------------------------------------------ fuzz, whole path
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def _mostly(
    valid: st.SearchStrategy[object], wild: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    return st.integers(0, 3).flatmap(lambda n: wild if n == 0 else valid)


_REALMS = st.sampled_from(["123", "a.b.>", "../../etc", "*", ""]) | _SCALARS
_EVENTS = st.lists(
    st.fixed_dictionaries(
        {
            "specversion": st.just("1.0"),
            "id": _mostly(st.uuids().map(str), st.text(max_size=300)),
            "type": _mostly(
                st.sampled_from(["qbo.invoice.updated.v1", "qbo.payment.created.v1"]),
                st.text(max_size=20),
            ),
            "intuitentityid": _mostly(st.integers(0, 10**6).map(str), _SCALARS),
            "intuitaccountid": _mostly(st.just(REALM), _REALMS),  # the connected company
        },
        optional={"time": st.text(max_size=40), "data": _JSON},
    ),
    max_size=4,
)
_SECRET = base64.b64encode(bytes(range(32))).decode()
_VERIFIER = "fuzz-verifier"


@pytest.fixture(scope="module")
def running_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``forwardflow run --role http`` as a process, with one connected company."""
    nats = require(external_nats_url)
    folder = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORWARDFLOW_")}
    env.update(
        FORWARDFLOW_DATA_DIR=str(folder),
        FORWARDFLOW_SECRET_KEY=_SECRET,
        FORWARDFLOW_BROKER__URL=nats,
        FORWARDFLOW_BROKER__STREAM_PREFIX="TFUZZ" + str(port),
        FORWARDFLOW_HTTP__PORT=str(port),
        FORWARDFLOW_QUICKBOOKS__VERIFIER_TOKEN=_VERIFIER,
    )
    app = bootstrap(
        load_settings(data_dir=folder, secret_key=SecretStr(_SECRET), broker={"url": nats})
    )
    upgrade(app.engine)
    far = datetime_in(days=100)
    store_company(quickbooks(app), REALM, Tokens("a", "r", far, far))
    app.close()
    log = folder / "service.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "forwardflow"), "run", "--role", "http"],
        cwd=folder,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]


def datetime_in(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(_EVENTS, _JSON), ascii_only=st.booleans())
def test_fuzz_the_running_service_never_answers_a_signed_body_with_a_5xx(
    running_service: str, body: object, ascii_only: bool
) -> None:
    raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    answer = httpx.post(
        f"{running_service}/webhooks/quickbooks",
        content=raw,
        headers={"intuit-signature": sign(raw, _VERIFIER)},
        timeout=30,
    )
    assert answer.status_code in (200, 400), (raw[:300], answer.text)
