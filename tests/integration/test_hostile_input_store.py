"""The store writes added for hostile input, on every backend: connect links used once, a
stale refresh refused, the readiness write, refused request lines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.quickbooks.client import Tokens
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.companies import store_company
from forwardflow.connect import LinkRefusedError, begin_flow, finish_flow, mint_link
from forwardflow.health import probe_store
from forwardflow.settings import DatabaseSettings, load_settings
from forwardflow.store import upgrade
from forwardflow.store.tables import putback_rejections
from testkit.quickbooks import quickbooks


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Forwardflow:
    app = bootstrap(load_settings(data_dir=tmp_path, database=DatabaseSettings(url=db_url)))
    upgrade(app.engine)
    return app


PLATFORM = "quickbooks"


def _tokens(refresh: str) -> Tokens:
    later = datetime.now(UTC) + timedelta(days=90)
    return Tokens(f"access-{refresh}", refresh, later, later)


def test_a_link_opens_once_and_its_state_finishes_once(app: Forwardflow) -> None:
    link, _ = mint_link(quickbooks(app))
    token = link.split("link=", 1)[1]
    _, state, browser = begin_flow(app, PLATFORM, token)
    with pytest.raises(LinkRefusedError):
        begin_flow(app, PLATFORM, token)
    with pytest.raises(LinkRefusedError):
        finish_flow(app, PLATFORM, state, "another browser")
    assert finish_flow(app, PLATFORM, state, browser).company_id is None
    with pytest.raises(LinkRefusedError):
        finish_flow(app, PLATFORM, state, browser)
    app.close()


def test_a_refresh_of_replaced_tokens_is_not_written(app: Forwardflow) -> None:
    store = quickbooks(app).tokens
    store_company(quickbooks(app), "123", _tokens("first"))
    held = store.load("123")
    store_company(quickbooks(app), "123", _tokens("reconnected"))  # a new grant meanwhile
    assert not store.save("123", _tokens("refreshed"), replacing=held)
    assert store.load("123").refresh_token == "reconnected"
    assert store.save("123", _tokens("refreshed"), replacing=store.load("123"))
    assert store.load("123").refresh_token == "refreshed"
    app.close()


def test_the_readiness_write_and_refused_lines(app: Forwardflow) -> None:
    assert asyncio.run(probe_store(app)) is None
    assert asyncio.run(probe_store(app)) is None  # the row exists now: updated
    with app.unit_of_work() as uow:
        uow.connection.execute(
            putback_rejections.insert(),
            [
                {
                    "agreement_id": "a",
                    "file_sha256": "f" * 64,
                    "line": n,
                    "portfolio_id": "P1",
                    "receivable_id": "X",
                    "rule": "putback.receivable_sold",
                    "detail": "no",
                }
                for n in (2, 3)
            ],
        )
        uow.commit()
    app.close()
