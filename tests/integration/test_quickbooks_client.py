"""The real python-quickbooks and intuit-oauth against the emulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.quickbooks.client import PlatformError, QuickBooksApi, ThrottledError
from connectors.quickbooks.mapping import invoice_change, payment_change
from debtsale.changes import InvoiceRecorded, PaymentRecorded
from debtsale.events import EntryLine, JournalEntryRequested
from debtsale.money import Money
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
from testkit.quickbooks_api import MemoryTokenStore, connect_company

REALM = "9130357"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    emulator = Emulator()
    company = emulator.company(REALM)
    customer = company.add_customer("Red Rock Diner", CompanyName="Red Rock Diner LLC")
    for n in range(5):
        company.add_invoice(customer["Id"], f"{100 + n}.25", date(2025, 1, 2 + n))
    with EmulatorServer(emulator) as running:
        yield running


@pytest.fixture
def store() -> MemoryTokenStore:
    return MemoryTokenStore()


@pytest.fixture
def api(server: EmulatorServer, store: MemoryTokenStore) -> QuickBooksApi:
    return connect_company(server, REALM, store, throttle_wait_s=0.01)


def _first_invoice(server: EmulatorServer) -> str:
    return str(server.emulator.company(REALM).all("Invoice")[0]["Id"])


def test_the_oauth_flow_connects_and_reads_an_invoice(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    raw = api.read("Invoice", _first_invoice(server))
    assert raw is not None
    assert isinstance(raw["TotalAmt"], Decimal)  # use_decimal: no float ever
    change = invoice_change(REALM, raw, datetime.now(UTC))
    assert isinstance(change, InvoiceRecorded)
    assert change.total == Money.of("100.25", "USD")


def test_query_pages_and_cdc_sees_changes(api: QuickBooksApi, server: EmulatorServer) -> None:
    first = api.query("select * from Invoice where Balance > '0' STARTPOSITION 1 MAXRESULTS 3")
    rest = api.query("select * from Invoice where Balance > '0' STARTPOSITION 4 MAXRESULTS 3")
    assert (len(first), len(rest)) == (3, 2)
    company = server.emulator.company(REALM)
    since = datetime.now(UTC) - timedelta(seconds=1)
    customer = company.all("Customer")[0]["Id"]
    payment = company.post_payment(customer, date(2025, 3, 1), {_first_invoice(server): "40.00"})
    changed = api.changes(["Invoice", "Payment"], since)
    assert [p["Id"] for p in changed["Payment"]] == [payment["Id"]]
    paid = next(i for i in changed["Invoice"] if i["Id"] == _first_invoice(server))
    assert paid["Balance"] == Decimal("60.25")
    recorded = payment_change(REALM, changed["Payment"][0], datetime.now(UTC))
    assert isinstance(recorded, PaymentRecorded)
    assert recorded.allocations[0].amount == Money.of("40.00", "USD")


def test_a_deleted_entity_reads_as_none(api: QuickBooksApi, server: EmulatorServer) -> None:
    company = server.emulator.company(REALM)
    customer = company.all("Customer")[0]["Id"]
    payment = company.post_payment(customer, date(2025, 3, 1), {_first_invoice(server): "1.00"})
    company.delete_payment(payment["Id"])
    assert api.read("Payment", payment["Id"]) is None


@pytest.mark.parametrize("kind", ["429", "3001", "xml"])
def test_throttling_waits_and_recovers(
    api: QuickBooksApi, server: EmulatorServer, kind: str
) -> None:
    server.emulator.inject(kind, times=2)
    assert api.read("Invoice", _first_invoice(server)) is not None


def test_throttling_without_end_is_a_transient_error(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    server.emulator.inject("429", times=50)
    with pytest.raises(ThrottledError):
        api.read("Invoice", _first_invoice(server))


def test_an_expired_token_is_refreshed_once_and_the_rotation_kept(
    api: QuickBooksApi, server: EmulatorServer, store: MemoryTokenStore
) -> None:
    before = store.load(REALM)
    server.emulator.expire_access_tokens()
    assert api.read("Invoice", _first_invoice(server)) is not None
    after = store.load(REALM)
    assert after.refresh_token != before.refresh_token  # rotated and persisted
    assert after.access_token != before.access_token
    server.emulator.inject("401", times=1)
    assert api.read("Invoice", _first_invoice(server)) is not None


def test_a_stale_object_is_reread_and_retried(api: QuickBooksApi, server: EmulatorServer) -> None:
    server.emulator.inject("5010", path="/journalentry", times=1)
    rereads: list[bool] = []
    body = {
        "DocNumber": "FF-1",
        "Line": [
            {
                "Amount": Decimal("10.00"),
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": "1"}},
            },
            {
                "Amount": Decimal("10.00"),
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": "2"}},
            },
        ],
    }

    def reread() -> dict[str, object]:
        rereads.append(True)
        return body

    posted = api.save("JournalEntry", body, refresh=reread)
    assert posted["DocNumber"] == "FF-1"


def test_another_error_is_a_clear_platform_error(api: QuickBooksApi) -> None:
    with pytest.raises(PlatformError, match="QueryParserError"):
        api.query("select nonsense")


def test_a_journal_entry_posted_again_by_a_retry_exists_once(
    api: QuickBooksApi, server: EmulatorServer
) -> None:
    from connectors.quickbooks.writeback import post_journal_entry

    customer = server.emulator.company(REALM).all("Customer")[0]["Id"]
    entry = JournalEntryRequested(
        portfolio_id="P-2026-10",
        entry_id="sale:P-2026-10",
        entry_date=date(2026, 11, 13),
        memo="Sale of receivables, portfolio P-2026-10",
        lines=(
            EntryLine("cash", "150.00", "0"),
            EntryLine("loss_on_sale_of_receivables", "850.00", "0"),
            EntryLine("accounts_receivable", "0", "1000.00", customer),
        ),
    )
    accounts = {
        "cash": "35",
        "loss_on_sale_of_receivables": "90",
        "accounts_receivable": "84",
    }
    first_id, posted = post_journal_entry(api, entry, accounts)
    again_id, posted_again = post_journal_entry(api, entry, accounts)  # the redelivery
    assert (posted, posted_again) == (True, False)
    assert first_id == again_id
    (stored,) = server.emulator.company(REALM).all("JournalEntry")
    receivable = next(
        line
        for line in stored["Line"]
        if line["JournalEntryLineDetail"]["AccountRef"]["value"] == "84"
    )
    assert receivable["JournalEntryLineDetail"]["Entity"]["EntityRef"]["value"] == customer


def test_stock_python_quickbooks_works_against_the_emulator_with_only_its_base_url(
    api: QuickBooksApi,
    server: EmulatorServer,
    store: MemoryTokenStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unchanged python-quickbooks, as any developer would use it (plain HTTP on loopback
    needs requests-oauthlib's standard OAUTHLIB_INSECURE_TRANSPORT switch)."""
    from quickbooks import QuickBooks
    from quickbooks.objects.invoice import Invoice

    from testkit.quickbooks_api import auth_client_for

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    tokens = store.load(REALM)
    auth = auth_client_for(server)
    auth.access_token, auth.refresh_token = tokens.access_token, tokens.refresh_token
    client = QuickBooks(
        auth_client=auth,
        refresh_token=tokens.refresh_token,
        company_id=REALM,
        minorversion=75,
        use_decimal=True,
    )
    client.api_url_v3 = server.api_url_v3
    invoice = Invoice.get(_first_invoice(server), qb=client)
    assert invoice.TotalAmt == Decimal("100.25")
    assert len(Invoice.all(qb=client)) == 5
