"""The platform contract: every registered platform, against its emulator, passes the same suite.

A new platform adds its package, a registry line (``forwardflow.platforms``) and a kit
(``testkit.platforms.KITS``); this suite then runs for it unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from debtsale.changes import InvoiceRecorded
from debtsale.events import EntryLine, JournalEntryRequested
from forwardflow.platforms import PLATFORMS
from testkit.platforms import KITS, KitRun


@pytest.fixture(params=[platform.name for platform in PLATFORMS])
def run(request: pytest.FixtureRequest) -> Iterator[KitRun]:
    kit = KITS.get(request.param)
    assert kit is not None, f"platform {request.param} has no kit in testkit.platforms.KITS"
    with kit().running() as started:
        yield started


def _post(run: KitRun, body: bytes, headers: dict[str, str]) -> httpx.Response:
    routes = run.platform.webhook_routes(run.context)
    app = Starlette(routes=list(routes))

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ff") as client:
            return await client.post(routes[0].path, content=body, headers=headers)

    return asyncio.run(send())


def test_a_signed_webhook_is_answered_and_its_notice_published_a_forged_one_refused(
    run: KitRun,
) -> None:
    _, body, headers = run.new_invoice()
    assert _post(run, body, run.forged(headers)).status_code == 401
    assert run.context.notices == []
    assert _post(run, body, headers).status_code == 200
    assert [company for company, _, _ in run.context.notices] == [run.company_id]


def test_a_notice_becomes_the_ledger_change_it_names(run: KitRun) -> None:
    invoice, body, headers = run.new_invoice()
    assert _post(run, body, headers).status_code == 200
    (_, event_id, notice), *_ = run.context.notices
    assert run.platform.fetch_notice(run.context, notice) == event_id
    recorded = [c for c in run.context.published if isinstance(c, InvoiceRecorded)]
    assert [c.invoice_id for c in recorded] == [invoice]


def test_catch_up_publishes_what_changed_since_the_checkpoint_and_moves_it(run: KitRun) -> None:
    before = run.now() - timedelta(minutes=1)
    for entity in run.checkpoint_entities():
        run.context.checkpoints.set(run.company_id, entity, before)
    invoice, _, _ = run.new_invoice()
    run.platform.catch_up(run.context, run.company_id)
    assert invoice in {
        c.invoice_id for c in run.context.published if isinstance(c, InvoiceRecorded)
    }
    for entity in run.checkpoint_entities():
        moved = run.context.checkpoints.get(run.company_id, entity)
        assert moved is not None
        assert moved > before


def test_an_expired_access_token_is_refreshed_once_and_the_rotation_kept(run: KitRun) -> None:
    held = run.context.tokens.load(run.company_id)
    saves = run.context.tokens.saves
    run.expire_tokens()
    run.platform.catch_up(run.context, run.company_id)
    run.platform.catch_up(run.context, run.company_id)
    assert run.context.tokens.saves == saves + 1  # one refresh, not one per call
    assert run.context.tokens.load(run.company_id).refresh_token != held.refresh_token


def test_a_journal_entry_posted_twice_is_in_the_books_once(run: KitRun) -> None:
    entry = JournalEntryRequested(
        portfolio_id="P-contract",
        entry_id="remittance:P-contract:W1",
        entry_date=date(2026, 11, 20),
        memo="Remittance W1 to the buyer",
        lines=(
            EntryLine("due_to_buyer", "125.00", "0.00"),
            EntryLine("cash", "0.00", "125.00"),
        ),
    )
    before = run.entries_in_books()
    first, posted = run.platform.post_entry(run.context, run.company_id, entry)
    again, posted_again = run.platform.post_entry(run.context, run.company_id, entry)
    assert (posted, posted_again) == (True, False)
    assert first == again
    assert run.entries_in_books() == before + 1


def test_an_invoice_is_given_as_a_pdf_and_an_unknown_one_as_none(run: KitRun) -> None:
    invoice, _, _ = run.new_invoice()
    read = run.platform.invoice_pdfs(run.context, run.company_id)
    pdf = read(invoice)
    assert pdf is not None
    assert pdf.startswith(b"%PDF")
    assert read("99999999") is None
