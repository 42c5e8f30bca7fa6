"""Fixtures shared by every test layer: databases, brokers and a clean environment."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from forwardflow.store import make_engine, upgrade
from testkit import (
    external_nats_url,
    gpg_binary,
    postgres_url,
    require,
    sshd_binary,
)
from testkit.databases import postgres_schema
from testkit.gpg import BuyerGpg
from testkit.sshd import LoopbackSshd


@pytest.fixture(autouse=True)
def _clean_forwardflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's FORWARDFLOW_* variable leaks into a test."""
    for name in list(os.environ):
        if name.startswith("FORWARDFLOW_") and not name.startswith("FORWARDFLOW_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'forwardflow.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = require(postgres_url)
    with postgres_schema(base) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each database backend forwardflow supports, one test run per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def nats_url() -> str:
    """The already running NATS server with JetStream (port 4222 on this machine kind)."""
    return require(external_nats_url)


@pytest.fixture
def stream_prefix() -> str:
    """A stream prefix no other test run uses, so leftovers never collide."""
    return "T" + uuid.uuid4().hex[:10].upper()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LoopbackSshd]:
    """A real OpenSSH sshd on a free loopback port with its own host and client keys."""
    binary = require(sshd_binary)
    with LoopbackSshd(tmp_path / "sshd", sshd=binary) as server:
        yield server


@pytest.fixture
def buyer_gpg(tmp_path: Path) -> BuyerGpg:
    """The buyer's gpg with an empty keyring of its own."""
    return BuyerGpg(tmp_path / "gnupg", binary=require(gpg_binary))
