"""Ledger facts in SQLite and PostgreSQL behave exactly like the domain's ledger."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from forwardflow.store import SqlUnitOfWork, make_engine, upgrade
from handlers.ledger import Outcome, apply_ledger_change
from testkit.builders import LedgerBuilder
from tests.strategies import histories


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One migrated database per backend for the module; each example uses its own tenant."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ff.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    from testkit import postgres_url, require
    from testkit.databases import postgres_schema

    with postgres_schema(require(postgres_url)) as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(book=histories(), rnd=st.randoms(use_true_random=False))
def test_shuffled_redelivered_changes_store_the_same_facts_as_the_domain(
    engine: Engine, book: LedgerBuilder, rnd: random.Random
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    deliveries = book.changes * 3
    rnd.shuffle(deliveries)
    outcomes = [apply_ledger_change(SqlUnitOfWork(engine), tenant, change) for change in deliveries]
    assert outcomes.count(Outcome.DUPLICATE) == 2 * len(book.changes)
    with SqlUnitOfWork(engine) as uow:
        stored = uow.ledger.load(tenant)
    assert stored.snapshot() == book.ledger.snapshot()


def test_a_newer_version_replaces_and_an_older_one_does_not(engine: Engine) -> None:
    from datetime import date

    book = LedgerBuilder()
    old = book.invoice("I1", "C1", "100.00", invoice_date=date(2025, 1, 1))
    new = book.invoice("I1", "C1", "150.00", invoice_date=date(2025, 1, 1))
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    with SqlUnitOfWork(engine) as uow:
        assert uow.ledger.record(tenant, new)
        assert not uow.ledger.record(tenant, old)
        assert not uow.ledger.record(tenant, new)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        receivable = uow.ledger.load(tenant).receivable("I1")
    assert receivable is not None
    assert str(receivable.original.amount) == "150.00"
