"""The store on SQLite and PostgreSQL: migrations, and a unit of work that is all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, inspect, select

from forwardflow.store import SqlUnitOfWork, current_revision, head_revision, make_engine, upgrade
from forwardflow.store.migrate import downgrade
from forwardflow.store.tables import inbox, metadata, outbox


def test_migrations_apply_from_empty_to_head(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision()
        assert {"inbox", "outbox"} <= set(inspect(engine).get_table_names())
        assert upgrade(engine) == head_revision()  # a second upgrade is a no-op
    finally:
        engine.dispose()


def test_migrations_match_the_declared_schema(migrated_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrations_downgrade_to_empty(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        upgrade(engine, "head")
        assert downgrade(engine) is None
        assert not {"inbox", "outbox"} & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_committed_unit_of_work_keeps_inbox_and_outbox_together(migrated_engine: Engine) -> None:
    with SqlUnitOfWork(migrated_engine) as uow:
        assert uow.inbox.claim("ledger", "evt-1")
        uow.outbox.add(event_id="out-1", subject="ff.event.X", payload={"a": 1})
        uow.commit()
    assert _count(migrated_engine, inbox) == 1
    assert _count(migrated_engine, outbox) == 1


class BoomError(Exception):
    """Raised inside a unit of work by the tests."""


def _claim_then_fail(engine: Engine, *, commit_first: bool = False) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.inbox.claim("ledger", "evt-1")
        if commit_first:
            uow.commit()
            uow.inbox.claim("ledger", "evt-2")
        uow.outbox.add(event_id="out-1", subject="ff.event.X", payload=b"{}")
        raise BoomError


def test_a_unit_of_work_that_raises_commits_nothing(migrated_engine: Engine) -> None:
    with pytest.raises(BoomError):
        _claim_then_fail(migrated_engine)
    assert _count(migrated_engine, inbox) == 0
    assert _count(migrated_engine, outbox) == 0


def test_leaving_without_commit_rolls_back(migrated_engine: Engine) -> None:
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.inbox.claim("ledger", "evt-1")
    assert _count(migrated_engine, inbox) == 0


def test_work_after_a_commit_is_rolled_back_on_error(migrated_engine: Engine) -> None:
    with pytest.raises(BoomError):
        _claim_then_fail(migrated_engine, commit_first=True)
    with SqlUnitOfWork(migrated_engine) as uow:
        assert uow.inbox.seen("ledger", "evt-1")
        assert not uow.inbox.seen("ledger", "evt-2")


def test_inbox_claims_an_event_once_per_consumer(migrated_engine: Engine) -> None:
    with SqlUnitOfWork(migrated_engine) as uow:
        assert uow.inbox.claim("ledger", "evt-1")
        assert not uow.inbox.claim("ledger", "evt-1")
        assert uow.inbox.claim("delivery", "evt-1")  # another consumer applies it separately
        uow.commit()
    with SqlUnitOfWork(migrated_engine) as uow:
        assert not uow.inbox.claim("ledger", "evt-1")  # a redelivery after commit


def test_outbox_returns_pending_in_order_and_marks_published(migrated_engine: Engine) -> None:
    with SqlUnitOfWork(migrated_engine) as uow:
        for n in range(5):
            uow.outbox.add(
                event_id=f"e{n}", subject="ff.event.X", payload={"n": n}, headers={"tenant": "t1"}
            )
        uow.commit()
    with SqlUnitOfWork(migrated_engine) as uow:
        pending = uow.outbox.pending()
        assert [m.event_id for m in pending] == ["e0", "e1", "e2", "e3", "e4"]
        assert pending[0].headers == {"tenant": "t1"}
        uow.outbox.mark_published([m.id for m in pending[:3]])
        uow.commit()
    with SqlUnitOfWork(migrated_engine) as uow:
        assert [m.event_id for m in uow.outbox.pending()] == ["e3", "e4"]


def test_an_outbox_event_id_is_queued_once(migrated_engine: Engine) -> None:
    """A deterministic event id names one fact: queuing it again keeps the first copy."""
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.outbox.add(event_id="same", subject="ff.event.X", payload=b"1")
        uow.outbox.add(event_id="same", subject="ff.event.X", payload=b"2")
        assert [m.payload for m in uow.outbox.pending()] == [b"1"]


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        engine.dispose()
