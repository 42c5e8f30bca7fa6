"""The wire form: every message round-trips; malformed ones are refused with the reason."""

from __future__ import annotations

import json
from datetime import date

import pytest

from debtsale.agreement import PutbackReason
from debtsale.codec import MESSAGE_TYPES, decode, encode, load_json
from debtsale.commands import ClosePortfolio, RequestPutback
from debtsale.errors import DomainError
from testkit.builders import LedgerBuilder, usd


def _every_change() -> list[object]:
    book = LedgerBuilder()
    book.customer("C1")
    book.invoice("I1", "C1", "100.10", invoice_date=date(2025, 1, 1))
    book.pay("P1", "C1", date(2025, 2, 1), {"I1": "50.00"})
    book.credit("CM1", "C1", date(2025, 2, 2), {"I1": "5.00"})
    book.void_payment("P1")
    book.delete_payment("P1")
    book.void_invoice("I1")
    book.delete_invoice("I1")
    book.merge("C1", "C2")
    return [
        *book.changes,
        ClosePortfolio(command_id="c1", portfolio_id="P", closing=date(2025, 7, 1)),
        RequestPutback(
            command_id="c2",
            portfolio_id="P",
            request_id="R",
            receivable_id="I1",
            reason=PutbackReason.FRAUD,
            fact_date=date(2025, 6, 1),
            requested_on=date(2025, 8, 1),
            evidence={"police_report": "PR-1"},
            buyer_collections=usd("3.00"),
        ),
    ]


@pytest.mark.parametrize("message", _every_change(), ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_json(message: object) -> None:
    wire = json.dumps(encode(message))
    assert decode(json.loads(wire)) == message


def test_money_travels_as_decimal_strings() -> None:
    data = encode(_every_change()[2])["data"]
    assert data["allocations"][0]["amount"] == {"amount": "50.00", "currency": "USD"}


@pytest.mark.parametrize(
    ("envelope", "rule", "words"),
    [
        ({"type": "Nope", "data": {}}, "codec.type", "unknown message type"),
        ({"type": "InvoiceVoided", "data": []}, "codec.data", "must be an object"),
        ({"type": "InvoiceVoided", "data": {"event_id": "e"}}, "codec.invalid", "version"),
        (
            {
                "type": "InvoiceVoided",
                "data": {"event_id": "e", "invoice_id": "I", "version": {"updated": 1.5}},
            },
            "codec.no_floats",
            "data.version.updated",
        ),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(
    envelope: dict[str, object], rule: str, words: str
) -> None:
    with pytest.raises(DomainError) as error:
        decode(envelope)
    assert error.value.rule == rule
    assert words in str(error.value)


def test_a_float_amount_is_refused() -> None:
    envelope = encode(_every_change()[2])
    envelope["data"]["allocations"][0]["amount"]["amount"] = 50.1
    with pytest.raises(DomainError, match=r"codec\.no_floats"):
        decode(envelope)


def test_a_float_in_a_message_body_is_refused_as_it_is_read() -> None:
    body = json.dumps(encode(_every_change()[2])).replace('"50.00"', "50.1")
    assert "50.1" in body
    with pytest.raises(DomainError, match=r"codec\.no_floats.*50\.1 is a JSON float"):
        decode(load_json(body), floats_refused=True)
    with pytest.raises(DomainError, match=r"envelope\.json"):
        load_json(b"{not json")


def test_a_bad_currency_is_refused_as_invalid() -> None:
    envelope = encode(_every_change()[2])
    envelope["data"]["allocations"][0]["amount"]["currency"] = "ZZZ"
    with pytest.raises(DomainError, match=r"codec\.invalid"):
        decode(envelope)


def test_every_change_and_command_class_is_a_registered_message_type() -> None:
    from debtsale import changes, commands

    classes = {
        cls
        for module, base in ((changes, changes.LedgerChange), (commands, commands.Command))
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, base) and cls is not base
    }
    assert classes == set(MESSAGE_TYPES.values())
    assert all(name == cls.__name__ for name, cls in MESSAGE_TYPES.items())
