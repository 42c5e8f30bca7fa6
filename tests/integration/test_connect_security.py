"""Connecting a company, attacked: nobody without a link starts a flow, nobody re-points a
company, and a refused callback changes nothing stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from connectors.quickbooks.client import QuickBooksApi, Tokens
from connectors.quickbooks.platform import QuickBooks
from connectors.quickbooks.settings import QuickBooksSettings
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.companies import companies
from forwardflow.connect import mint_link
from forwardflow.net import free_port
from forwardflow.service import Role
from forwardflow.settings import (
    BrokerSettings,
    DatabaseSettings,
    HttpSettings,
    ScheduleSettings,
    load_settings,
)
from forwardflow.store import upgrade
from forwardflow.wired import SealedTokens
from testkit.quickbooks import company_api, connect_in_browser, quickbooks
from testkit.service import running_service

pytestmark = [pytest.mark.nats, pytest.mark.anyio]
FIRM = "4620816365"
OTHER = "9130357171"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    emulator = Emulator()
    emulator.company(FIRM)  # the first company: the emulator's consent screen picks it
    emulator.company(OTHER, name="Someone Else Ltd")
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
        broker=BrokerSettings(url=nats_url, stream_prefix=stream_prefix),
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
    yield app
    app.close()


@pytest.fixture
async def service(app: Forwardflow) -> AsyncIterator[str]:
    async with running_service(app, Role.HTTP, ready_within=10, probe="/healthz") as base:
        yield base


async def _opened(link: str, browser: httpx.AsyncClient) -> str:
    """Open a link in the browser; the OAuth state it was sent to Intuit with."""
    answer = await browser.get(link)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["state"][0]


async def _code_for(emulator: EmulatorServer, realm: str) -> str:
    """What an attacker holds: a code Intuit issued for *their* company."""
    fake = emulator.emulator
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{emulator.url}/oauth2/authorize",
            params={
                "client_id": fake.client_id,
                "redirect_uri": "http://attacker.test/cb",
                "state": "s",
                "realm": realm,
            },
        )
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


def _stored(app: Forwardflow) -> dict[str, bytes]:
    with app.unit_of_work() as uow:
        rows = uow.connection.exec_driver_sql(
            "SELECT company_id, tokens FROM platform_companies"
        ).all()
    return {row[0]: row[1] for row in rows}


async def test_nobody_starts_a_connect_flow_without_a_link(app: Forwardflow, service: str) -> None:
    async with httpx.AsyncClient() as anyone:
        plain = await anyone.get(f"{service}/connect/quickbooks")
        forged = await anyone.get(f"{service}/connect/quickbooks?link=abc.1999999999.sig")
    for answer in (plain, forged):
        assert answer.status_code == 403
        assert "forwardflow quickbooks connect" in answer.json()["error"]
        assert "location" not in answer.headers  # never sent on to Intuit


async def test_a_link_works_once_and_not_after_it_expires(app: Forwardflow, service: str) -> None:
    link, _ = mint_link(quickbooks(app))
    async with httpx.AsyncClient() as browser:
        await _opened(link, browser)
        assert (await browser.get(link)).status_code == 403  # used
    stale, _ = mint_link(quickbooks(app), now=datetime.now(UTC) - timedelta(minutes=16))
    tampered = link.replace("?link=", "?link=x")
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(stale)).status_code == 403
        assert (await browser.get(tampered)).status_code == 403


async def test_the_callback_is_taken_only_from_the_browser_that_opened_the_link(
    app: Forwardflow, emulator: EmulatorServer, service: str
) -> None:
    link, _ = mint_link(quickbooks(app))
    async with httpx.AsyncClient() as victim:
        state = await _opened(link, victim)
    code = await _code_for(emulator, FIRM)
    async with httpx.AsyncClient() as attacker:  # has the state (leaked), not the cookie
        answer = await attacker.get(
            f"{service}/callback/quickbooks",
            params={"state": state, "code": code, "realmId": FIRM},
        )
    assert answer.status_code == 400
    assert "browser" in answer.json()["error"]
    assert _stored(app) == {}


async def test_a_code_for_another_company_cannot_re_point_the_firm(
    app: Forwardflow, emulator: EmulatorServer, service: str
) -> None:
    assert (await connect_in_browser(app)).json() == {"connected": FIRM}
    before = _stored(app)
    firm_tokens = quickbooks(app).tokens.load(FIRM)

    link, _ = mint_link(quickbooks(app), company_id=FIRM)  # a real reconnect of the firm…
    async with httpx.AsyncClient() as browser:
        state = await _opened(link, browser)
        foreign = await _code_for(emulator, OTHER)  # …answered with another company's code
        answer = await browser.get(
            f"{service}/callback/quickbooks",
            params={"state": state, "code": foreign, "realmId": FIRM},
        )
    assert answer.status_code == 400
    assert f"not for company {FIRM}" in answer.json()["error"]
    assert _stored(app) == before
    assert quickbooks(app).tokens.load(FIRM) == firm_tokens
    assert [c.company_id for c in companies(app)] == [FIRM]
    assert (
        await asyncio.to_thread(company_api(app, FIRM).read, "Invoice", "1") is None
    )  # still works


@pytest.mark.parametrize("realm", ["4620816365' OR 1=1 --", "../../etc", "a.b.>", "", "1" * 21])
async def test_a_malformed_company_id_is_refused_and_nothing_stored(
    app: Forwardflow, service: str, realm: str
) -> None:
    link, _ = mint_link(quickbooks(app))
    async with httpx.AsyncClient() as browser:
        state = await _opened(link, browser)
        answer = await browser.get(
            f"{service}/callback/quickbooks",
            params={"state": state, "code": "any", "realmId": realm},
        )
    assert answer.status_code == 400
    assert _stored(app) == {}


async def test_reconnecting_needs_a_link_for_that_same_company(
    app: Forwardflow, emulator: EmulatorServer, service: str
) -> None:
    assert (await connect_in_browser(app)).status_code == 200
    before = _stored(app)
    again = await connect_in_browser(app)  # a plain link cannot replace a connected company
    assert again.status_code == 400
    assert f"--company {FIRM}" in again.json()["error"]
    elsewhere = await connect_in_browser(app, company=OTHER)  # grant comes back for FIRM
    assert elsewhere.status_code == 400
    assert f"reconnects company {OTHER}" in elsewhere.json()["error"]
    assert _stored(app) == before
    renewed = await connect_in_browser(app, company=FIRM)
    assert renewed.json() == {"connected": FIRM}
    assert _stored(app)[FIRM] != before[FIRM]


async def test_a_refresh_in_flight_does_not_overwrite_a_newer_grant(
    app: Forwardflow, emulator: EmulatorServer, service: str
) -> None:
    assert (await connect_in_browser(app)).status_code == 200
    store = quickbooks(app).tokens
    old = store.load(FIRM)

    refreshed: list[tuple[Tokens, bool]] = []

    class ReconnectDuringRefresh(SealedTokens):
        """The admin's reconnect lands between the refresh's read and its write."""

        def save(self, realm_id: str, tokens: Tokens, replacing: Tokens | None = None) -> bool:
            asyncio.run_coroutine_threadsafe(connect_in_browser(app, company=FIRM), loop).result(
                timeout=30
            )
            written = super().save(realm_id, tokens, replacing)
            refreshed.append((tokens, written))
            return written

    loop = asyncio.get_running_loop()
    api = QuickBooksApi(
        FIRM,
        lambda: QuickBooks().auth_client(quickbooks(app)),
        ReconnectDuringRefresh(app, QuickBooks()),
        api_base_url=app.settings.quickbooks.api_base_url,
    )
    await asyncio.to_thread(api.refresh, old.access_token)
    newest = store.load(FIRM)
    ((tokens, written),) = refreshed
    assert not written
    assert newest.refresh_token not in (old.refresh_token, tokens.refresh_token)
    with app.unit_of_work() as uow:
        outcome = uow.connection.exec_driver_sql(
            "SELECT outcome FROM connect_links ORDER BY created_at DESC LIMIT 1"
        ).scalar_one()
    assert outcome == f"connected {FIRM}"
    # the stored grant is the reconnect's: it reads the company, the refreshed one is gone
    assert await asyncio.to_thread(company_api(app, FIRM).read, "Invoice", "1") is None
