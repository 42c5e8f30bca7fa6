"""What was posted to a company's books, on each database: a held entry is a named problem
until re-authorisation puts it back on the broker; a posted one is queued to be applied."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from forwardflow.bootstrap import bootstrap
from forwardflow.postings import (
    PostingState,
    posting_problems,
    postings_of,
    record,
    requeue,
)
from forwardflow.settings import DatabaseSettings, load_settings
from forwardflow.store import upgrade
from forwardflow.store.tables import outbox

ENTRY = {
    "portfolio_id": "P1",
    "entry_id": "putback:P1:R1",
    "entry_date": "2026-11-24",
    "memo": "Put-back refund",
    "lines": [["accounts_receivable", "90.00", "0.00", "58"], ["cash", "0.00", "90.00", None]],
    "receivables": [["58", "70", "90.00", "0.00"]],
}


def test_a_held_entry_is_named_then_queued_again_and_a_posted_one_applied(
    tmp_path: Path, db_url: str
) -> None:
    app = bootstrap(load_settings(data_dir=tmp_path, database=DatabaseSettings(url=db_url)))
    try:
        upgrade(app.engine)
        record(app, "quickbooks", "4620", ENTRY, PostingState.BLOCKED, problem="reconnect")
        [problem] = posting_problems(app)
        assert problem == (
            "quickbooks 4620: journal entry putback:P1:R1 not posted (1 attempt(s)): reconnect"
        )
        assert requeue(app, "quickbooks", "4620") == 1
        assert requeue(app, "quickbooks", "other") == 0
        record(app, "quickbooks", "4620", ENTRY, PostingState.POSTED, platform_id="901")
        assert posting_problems(app) == []
        [held] = postings_of(app, "quickbooks", "4620", "P1")
        assert (held.state, held.platform_id, held.attempts) == ("posted", "901", 2)
        with app.unit_of_work() as uow:
            queued = [
                (row.event_id, row.subject)
                for row in uow.connection.execute(select(outbox.c.event_id, outbox.c.subject))
            ]
        assert queued == [
            (
                "JournalEntryRequested:P1:putback:P1:R1:quickbooks:4620:1",
                "ff.event.JournalEntryRequested",
            ),
            (
                "JournalEntryPosted:P1:putback:P1:R1:quickbooks:4620:1",
                "ff.event.JournalEntryPosted",
            ),
        ]
    finally:
        app.close()
