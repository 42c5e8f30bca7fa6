"""Xero rows to ledger changes, the client's limits, and polling checkpoints (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors import platform
from connectors.platform import PAUSED, AuthorizationError
from connectors.xero import client as client_module
from connectors.xero.client import DayLimitError, XeroApi
from connectors.xero.mapping import contact_change, credit_change, invoice_change, payment_change
from connectors.xero.poll import catch_up
from connectors.xero.schemas import parse_xero_time
from connectors.xero.settings import XeroSettings
from debtsale.changes import (
    CreditRecorded,
    CreditRemoved,
    CustomerRecorded,
    InvoiceRecorded,
    InvoiceVoided,
    PaymentDeleted,
    PaymentRecorded,
)
from testkit.quickbooks_api import MemoryCheckpoints, MemoryPaymentLinks, MemoryTokenStore

T = "aef86862-2015-4b6b-88bc-d89032cecc50"
INV = "55d84274-a3da-4829-a7c0-0cab601b95cc"
CON = "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777"
PAY = "0a4c1c3e-2a5e-4e4f-9b1a-1f1f1f1f1f1f"
SEEN = datetime(2026, 11, 20, tzinfo=UTC)


def test_both_date_spellings_are_read_as_utc() -> None:
    assert parse_xero_time("/Date(1700000000000+0000)/") == datetime.fromtimestamp(
        1_700_000_000, UTC
    )
    assert parse_xero_time("2024-06-21T01:15:39.9021234") == datetime(
        2024, 6, 21, 1, 15, 39, 902123, tzinfo=UTC
    )


def _invoice(**fields: Any) -> dict[str, Any]:
    return {
        "InvoiceID": INV,
        "Type": "ACCREC",
        "InvoiceNumber": "INV-7",
        "Status": "AUTHORISED",
        "Contact": {"ContactID": CON},
        "Date": "/Date(1735776000000+0000)/",
        "DueDate": "2025-02-01T00:00:00",
        "Total": Decimal("1200.00"),
        "CurrencyCode": "USD",
        "UpdatedDateUTC": "/Date(1735776000000+0000)/",
        **fields,
    }


def test_an_invoice_a_void_and_a_bill() -> None:
    recorded = invoice_change(T, _invoice(), SEEN)
    assert isinstance(recorded, InvoiceRecorded)
    assert (recorded.number, recorded.invoice_date, recorded.due_date) == (
        "INV-7",
        date(2025, 1, 2),
        date(2025, 2, 1),
    )
    assert str(recorded.total.amount) == "1200.00"
    voided = invoice_change(T, _invoice(Status="VOIDED"), SEEN)
    assert isinstance(voided, InvoiceVoided)
    assert voided.version > recorded.version
    assert invoice_change(T, _invoice(Type="ACCPAY"), SEEN) is None


def test_a_payment_pays_its_one_invoice_and_a_deleted_one_is_withdrawn() -> None:
    raw = {
        "PaymentID": PAY,
        "Date": "/Date(1763596800000+0000)/",
        "Amount": Decimal("200.00"),
        "Status": "AUTHORISED",
        "PaymentType": "ACCRECPAYMENT",
        "Invoice": {"InvoiceID": INV, "Contact": {"ContactID": CON}, "CurrencyCode": "USD"},
        "UpdatedDateUTC": "/Date(1763596800000+0000)/",
    }
    paid = payment_change(T, raw, SEEN)
    assert isinstance(paid, PaymentRecorded)
    assert [(a.invoice_id, str(a.amount.amount)) for a in paid.allocations] == [(INV, "200.00")]
    deleted = payment_change(T, {**raw, "Status": "DELETED"}, SEEN)
    assert isinstance(deleted, PaymentDeleted)
    assert deleted.event_id != paid.event_id


def test_a_credit_note_credits_its_allocations_and_a_void_removes_it() -> None:
    raw = {
        "CreditNoteID": PAY,
        "Type": "ACCRECCREDIT",
        "Status": "PAID",
        "Contact": {"ContactID": CON},
        "Date": "/Date(1763596800000+0000)/",
        "CurrencyCode": "USD",
        "Allocations": [{"Amount": Decimal("120.00"), "Invoice": {"InvoiceID": INV}}],
    }
    credit = credit_change(T, raw, SEEN)
    assert isinstance(credit, CreditRecorded)
    assert credit.credit_id == f"CreditNote:{PAY}"
    assert str(credit.allocations[0].amount.amount) == "120.00"
    assert isinstance(credit_change(T, {**raw, "Status": "VOIDED"}, SEEN), CreditRemoved)
    assert credit_change(T, {**raw, "Type": "ACCPAYCREDIT"}, SEEN) is None
    assert credit_change(T, {**raw, "Reference": "FF0123456789abcdef012"}, SEEN) is None
    overpayment = {**raw, "OverpaymentID": PAY, "Type": "RECEIVE-OVERPAYMENT"}
    made = credit_change(T, overpayment, SEEN, "Overpayment")
    assert isinstance(made, CreditRecorded)


def test_a_contact_is_a_debtor_profile_with_its_postal_address() -> None:
    raw = {
        "ContactID": CON,
        "Name": "Harbor Dental LLC",
        "EmailAddress": "ap@harbor.example",
        "Addresses": [
            {"AddressType": "STREET", "City": "Elsewhere"},
            {
                "AddressType": "POBOX",
                "AddressLine1": "1 Elm St",
                "City": "Springfield",
                "Region": "IL",
                "PostalCode": "62701",
                "Country": "US",
            },
        ],
    }
    change = contact_change(T, raw, SEEN)
    assert isinstance(change, CustomerRecorded)
    assert change.profile.address.city == "Springfield"
    assert change.profile.contact == "ap@harbor.example"


# ---------------------------------------------------------------- the client's limits
@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Response]]:
    queued: list[httpx.Response] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return queued.pop(0)

    monkeypatch.setattr(
        client_module, "_HTTP", [httpx.Client(transport=httpx.MockTransport(handler))]
    )
    PAUSED.clear()
    yield queued
    PAUSED.clear()


def _api(sleeps: list[float], tenant: str = T) -> XeroApi:
    store = MemoryTokenStore()
    now = datetime.now(UTC)
    store.save(
        tenant, platform.Tokens("a", "r", now + timedelta(minutes=30), now + timedelta(days=60))
    )
    settings = XeroSettings(client_id="c", api_url="http://xero.test")
    return XeroApi(tenant, store, settings, sleep=sleeps.append, backoff=(0.5, 1.0))


def test_429_waits_exactly_retry_after_and_5xx_backs_off(answers: list[httpx.Response]) -> None:
    answers += [
        httpx.Response(429, headers={"Retry-After": "2", "X-Rate-Limit-Problem": "minute"}),
        httpx.Response(503),
        httpx.Response(200, json={"Invoices": []}),
    ]
    sleeps: list[float] = []
    assert _api(sleeps).get("Invoices") == {"Invoices": []}
    assert sleeps == [2.0, 0.5]


def test_the_day_limit_stops_calls_for_that_tenant_only(answers: list[httpx.Response]) -> None:
    answers.append(httpx.Response(200, json={}, headers={"X-DayLimit-Remaining": "0"}))
    sleeps: list[float] = []
    api = _api(sleeps)
    api.get("Invoices")
    with pytest.raises(DayLimitError):
        api.get("Invoices")  # no answer queued: it must not call
    assert T in platform.paused("xero")
    other = "11111111-2222-3333-4444-555555555555"
    answers.append(httpx.Response(200, json={}))
    assert _api(sleeps, other).get("Invoices") == {}


def test_a_401_after_a_refresh_is_not_retried_again(
    answers: list[httpx.Response], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []

    def refresh(settings: XeroSettings, token: str) -> platform.Tokens:
        made.append(token)
        now = datetime.now(UTC)
        return platform.Tokens("a2", "r2", now + timedelta(minutes=30), now + timedelta(days=60))

    monkeypatch.setattr(client_module, "refresh_tokens", refresh)
    answers += [httpx.Response(401), httpx.Response(401)]
    with pytest.raises(AuthorizationError):
        _api([]).get("Invoices")
    assert made == ["r"]


# ---------------------------------------------------------------- polling checkpoints
class _Api:
    tenant_id = T

    def __init__(self, fail_on: str | None = None) -> None:
        self.asked: list[tuple[str, datetime | None]] = []
        self.fail_on = fail_on

    def modified(self, collection: str, since: datetime | None) -> list[dict[str, Any]]:
        self.asked.append((collection, since))
        if collection == self.fail_on:
            raise RuntimeError("crash")
        return [_invoice()] if collection == "Invoices" else []


def test_checkpoints_move_forward_only_and_a_crash_re_fetches() -> None:
    points, links = MemoryCheckpoints(), MemoryPaymentLinks()
    later = SEEN + timedelta(hours=1)
    points.set(T, "Invoices", later)  # ahead of this run's clock
    published: list[Any] = []
    with pytest.raises(RuntimeError):
        catch_up(_Api("Payments"), points, links, published.extend, now=SEEN)  # type: ignore[arg-type]
    assert points.get(T, "Invoices") == later
    assert points.get(T, "Payments") is None  # not moved: the next run reads it again
    api = _Api()
    catch_up(api, points, links, published.extend, now=SEEN, sweep=timedelta(days=1))  # type: ignore[arg-type]
    assert dict(api.asked)["Invoices"] == SEEN - timedelta(days=1)
    assert points.get(T, "Payments") == SEEN - timedelta(seconds=30)


def test_readiness_names_an_organisation_whose_day_limit_is_spent() -> None:
    from types import SimpleNamespace

    from forwardflow.web.health import _paused_companies

    PAUSED.clear()
    PAUSED[("xero", T)] = datetime.now(UTC) + timedelta(hours=2)
    PAUSED[("xero", "gone")] = datetime.now(UTC) - timedelta(minutes=1)
    try:
        found = _paused_companies(SimpleNamespace(platforms={"xero": None}))  # type: ignore[arg-type]
    finally:
        PAUSED.clear()
    assert len(found) == 1
    assert found[0].startswith(f"xero {T}: calls paused until")


def test_a_refresh_refused_because_another_process_rotated_first_uses_theirs(
    answers: list[httpx.Response], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = _api([])
    store = api._tokens
    now = datetime.now(UTC)
    theirs = platform.Tokens(
        "a-theirs", "r-theirs", now + timedelta(minutes=30), now + timedelta(days=60)
    )

    def refused(settings: XeroSettings, token: str) -> platform.Tokens:
        store.save(T, theirs)  # the other process won the race
        raise AuthorizationError("invalid_grant")

    monkeypatch.setattr(client_module, "refresh_tokens", refused)
    answers += [httpx.Response(401), httpx.Response(200, json={"Invoices": []})]
    assert api.get("Invoices") == {"Invoices": []}


def test_an_unreadable_row_is_skipped_not_the_whole_poll() -> None:
    from connectors.xero.poll import changes_of

    bad = _invoice(InvoiceID="0a4c1c3e-0000-0000-0000-000000000000", Contact={})
    assert [c.invoice_id for c in changes_of(T, "Invoices", [bad, _invoice()], SEEN)] == [INV]  # type: ignore[attr-defined]
