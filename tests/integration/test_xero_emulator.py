"""The Xero connector against the emulator: journals once, Retry-After obeyed, tokens rotated
and never reused, the day limit held, payments found by polling (loopback only, seconds)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from connectors.platform import PAUSED, AuthorizationError
from connectors.xero.client import DayLimitError, XeroApi, refresh_tokens
from connectors.xero.oauth import authorization_url
from connectors.xero.poll import catch_up
from connectors.xero.writeback import idempotency_key, manual_journal_body, post_manual_journal
from debtsale.changes import LedgerChange, PaymentDeleted, PaymentRecorded
from debtsale.events import EntryLine, JournalEntryRequested
from emulators.xero.app import XeroEmulator
from emulators.xero.org import EmulatedOrganisation
from emulators.xero.server import XeroServer
from testkit.quickbooks_api import MemoryCheckpoints, MemoryPaymentLinks, MemoryTokenStore
from testkit.xero import connect_tenant

ACCOUNTS = {"due_to_buyer": "820", "cash": "090"}
ENTRY = JournalEntryRequested(
    portfolio_id="P-x",
    entry_id="remittance:P-x:W1",
    entry_date=date(2026, 11, 20),
    memo="Remittance W1",
    lines=(EntryLine("due_to_buyer", "125.00", "0.00"), EntryLine("cash", "0.00", "125.00")),
)


@pytest.fixture
def server() -> Iterator[XeroServer]:
    PAUSED.clear()
    with XeroServer(XeroEmulator()) as running:
        yield running
    PAUSED.clear()


def _org(server: XeroServer) -> EmulatedOrganisation:
    return server.emulator.organisation(name="Emulated Dental")


def test_a_manual_journal_retried_is_posted_once(server: XeroServer) -> None:
    org = _org(server)
    api = connect_tenant(server.settings(), org.tenant_id, MemoryTokenStore())
    body, key = manual_journal_body(ENTRY, ACCOUNTS), idempotency_key(ENTRY.entry_id)
    first = api.put("ManualJournals", body, key)  # an answer lost, the same write again:
    again = api.put("ManualJournals", body, key)
    assert first["ManualJournalID"] == again["ManualJournalID"]
    assert post_manual_journal(api, ENTRY, ACCOUNTS) == (first["ManualJournalID"], False)
    assert len(org.manual_journals) == 1
    lines = next(iter(org.manual_journals.values()))["JournalLines"]
    assert [(x["AccountCode"], str(x["LineAmount"])) for x in lines] == [
        ("820", "125.00"),
        ("090", "-125.00"),
    ]


def test_a_429_with_retry_after_2_waits_2_seconds(server: XeroServer) -> None:
    org = _org(server)
    api = connect_tenant(server.settings(), org.tenant_id, MemoryTokenStore())
    server.emulator.inject("429", "/Invoices", retry_after=2)
    began = time.monotonic()
    assert api.modified("Invoices", None) == []
    assert 2.0 <= time.monotonic() - began < 3.0


def test_the_day_limit_stops_calls_to_that_organisation(server: XeroServer) -> None:
    org = _org(server)
    api = connect_tenant(server.settings(), org.tenant_id, MemoryTokenStore())
    server.emulator.inject("day", "/Invoices", retry_after=3600)
    with pytest.raises(DayLimitError):
        api.modified("Invoices", None)
    calls = len(server.emulator.calls)
    with pytest.raises(DayLimitError):
        api.modified("Contacts", None)
    assert len(server.emulator.calls) == calls  # nothing was sent


def test_a_refresh_token_used_twice_is_refused(server: XeroServer) -> None:
    org = _org(server)
    store = MemoryTokenStore()
    connect_tenant(server.settings(), org.tenant_id, store)
    spent = store.load(org.tenant_id).refresh_token
    fresh = refresh_tokens(server.settings(), spent)
    assert fresh.refresh_token != spent
    answer = httpx.post(
        f"{server.url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": spent},
        auth=(server.emulator.identity.client_id, server.emulator.identity.client_secret),
    )
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_grant"})
    assert server.emulator.identity.reused_refresh_tokens == 1


def test_concurrent_callers_after_expiry_refresh_once_and_never_reuse_a_token(
    server: XeroServer,
) -> None:
    org = _org(server)
    store = MemoryTokenStore()
    settings = server.settings()
    connect_tenant(settings, org.tenant_id, store)
    server.emulator.identity.expire_access_tokens()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            XeroApi(org.tenant_id, store, settings).modified("Contacts", None)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert server.emulator.identity.refreshes == 1
    assert server.emulator.identity.reused_refresh_tokens == 0


def test_payments_made_and_deleted_are_found_by_polling(server: XeroServer) -> None:
    org = _org(server)
    api = connect_tenant(server.settings(), org.tenant_id, MemoryTokenStore())
    contact = org.add_contact("Polled Dental")["ContactID"]
    invoice = org.add_invoice(contact, "900.00", date(2026, 1, 5))["InvoiceID"]
    points, links = MemoryCheckpoints(), MemoryPaymentLinks()
    published: list[LedgerChange] = []
    catch_up(api, points, links, published.extend)
    payment = org.pay(invoice, "300.00", date(2026, 11, 20))["PaymentID"]
    catch_up(api, points, links, published.extend)
    assert any(isinstance(c, PaymentRecorded) and c.payment_id == payment for c in published)
    org.delete_payment(payment)
    catch_up(api, points, links, published.extend)
    assert any(isinstance(c, PaymentDeleted) and c.payment_id == payment for c in published)
    assert org.invoices[invoice]["AmountDue"] == 900


def test_a_scenario_seeds_organisations_and_control_endpoints_change_them(
    server: XeroServer,
) -> None:
    from emulators.xero.scenario import load_scenario

    ids = load_scenario(
        server.emulator,
        {
            "organisations": [
                {
                    "ref": "o1",
                    "name": "Scenario Dental",
                    "contacts": [{"ref": "c1", "name": "Red Rock Diner"}],
                    "invoices": [
                        {"ref": "i1", "contact": "c1", "amount": "500", "date": "2025-01-02"}
                    ],
                    "payments": [
                        {"ref": "p1", "invoice": "i1", "amount": "100", "date": "2025-02-01"}
                    ],
                    "credit_notes": [
                        {
                            "contact": "c1",
                            "amount": "50",
                            "date": "2025-02-02",
                            "allocations": {"i1": "50"},
                        }
                    ],
                }
            ]
        },
    )
    org = server.emulator.orgs[ids["o1"]]
    assert org.invoices[ids["i1"]]["AmountDue"] == 350
    answer = httpx.post(
        f"{server.url}/_emulator/{ids['o1']}/delete-payment", json={"payment": ids["p1"]}
    )
    assert answer.json()["Status"] == "DELETED"
    assert org.invoices[ids["i1"]]["AmountDue"] == 450


def test_entries_are_applied_with_credit_notes_that_close_the_sold_invoices(
    server: XeroServer,
) -> None:
    from connectors.platform import Posted
    from connectors.xero.writeback import apply_entries

    org = _org(server)
    api = connect_tenant(server.settings(), org.tenant_id, MemoryTokenStore())
    contact = org.add_contact("Sold Dental")["ContactID"]
    one = org.add_invoice(contact, "500.00", date(2025, 1, 2))["InvoiceID"]
    two = org.add_invoice(contact, "300.00", date(2025, 1, 3))["InvoiceID"]
    accounts = {"accounts_receivable": "615"}
    sale = Posted(
        "MJ1", "2025-07-15", [(contact, one, "0.00", "500.00"), (contact, two, "0.00", "300.00")]
    )
    made = apply_entries(api, "P1", [contact], [sale], accounts)
    assert list(made.made) == [contact]
    assert (org.invoices[one]["AmountDue"], org.invoices[two]["AmountDue"]) == (0, 0)
    assert apply_entries(api, "P1", [contact], [sale], accounts).made == made.made  # idempotent
    assert len(org.credit_notes) == 1
    putback = Posted("MJ2", "2025-08-01", [(contact, two, "300.00", "0.00")])  # reinstated
    apply_entries(api, "P1", [contact], [sale, putback], accounts)
    assert (org.invoices[one]["AmountDue"], org.invoices[two]["AmountDue"]) == (0, 300)
    live = [n for n in org.credit_notes.values() if n["Status"] != "VOIDED"]
    assert [n["LineItems"][0]["AccountCode"] if "LineItems" in n else "615" for n in live] == [
        "615"
    ]
    assert len(live) == 1


def test_disconnecting_removes_one_connection_and_revokes_only_a_grant_left_empty(
    server: XeroServer,
) -> None:
    from connectors.xero.oauth import connections
    from connectors.xero.platform import Xero
    from testkit.platforms import MemoryContext

    first, second = _org(server), server.emulator.organisation(name="Sister practice")
    settings = server.settings()
    context = MemoryContext(settings, {first.tenant_id})
    url = authorization_url(settings, "s") + f"&tenants={first.tenant_id},{second.tenant_id}"
    code = parse_qs(urlparse(httpx.get(url).headers["location"]).query)["code"][0]
    grant = Xero().grant(context, code, None)
    assert (grant.company_id, grant.others) == (first.tenant_id, (second.tenant_id,))
    Xero().revoke(context, first.tenant_id, grant.tokens)
    left = connections(settings, grant.tokens.access_token)
    assert [row["tenantId"] for row in left] == [second.tenant_id]  # the grant still works
    Xero().revoke(context, second.tenant_id, grant.tokens)
    with pytest.raises(AuthorizationError):
        refresh_tokens(settings, grant.tokens.refresh_token)


def test_a_failed_webhook_is_retried_scaled_and_later_ones_wait_their_turn() -> None:
    import http.server

    from connectors.xero.webhook import verify_signature

    answers: list[int] = [500, 200, 200]
    received: list[bytes] = []

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            verify_signature(body, self.headers["x-xero-signature"], emulator.webhook_key)
            received.append(body)
            self.send_response(answers.pop(0))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    endpoint = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    emulator = XeroEmulator(retry_scale=0.01)
    org = emulator.organisation()
    emulator.send_webhooks_to(f"http://127.0.0.1:{endpoint.server_address[1]}/webhooks/xero")
    try:
        first = org.add_contact("First")["ContactID"]
        second = org.add_contact("Second")["ContactID"]
        assert emulator.sender is not None
        emulator.sender.flush(5)
    finally:
        emulator.stop_webhooks()
        endpoint.shutdown()
    ids = [json.loads(body)["events"][0]["resourceId"] for body in received]
    assert ids == [first, first, second]  # retried after 5 s x 0.01, the second waited
