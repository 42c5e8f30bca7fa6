"""The wire form of ledger changes and commands: plain JSON data with a type name.

Connectors encode, handlers decode; both meet here in the domain, so neither knows
the other. Money travels as decimal strings, dates as ISO strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from debtsale import changes, commands, events
from debtsale.errors import DomainError
from debtsale.portfolio import Portfolio

__all__ = [
    "EVENT_TYPES",
    "MESSAGE_TYPES",
    "decode",
    "decode_event",
    "decode_portfolio",
    "encode",
    "encode_event",
    "encode_portfolio",
    "type_name",
]

MESSAGE_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        changes.InvoiceRecorded,
        changes.InvoiceVoided,
        changes.InvoiceDeleted,
        changes.PaymentRecorded,
        changes.PaymentVoided,
        changes.PaymentDeleted,
        changes.CreditRecorded,
        changes.CreditRemoved,
        changes.CustomerRecorded,
        changes.CustomerMerged,
        commands.CutPortfolio,
        commands.ClosePortfolio,
        commands.RemoveReceivable,
        commands.FlagReceivable,
        commands.RequestPutback,
        commands.DecidePutback,
        commands.RecordRemittance,
    )
}
"""Every message type by its wire name."""


EVENT_TYPES: dict[str, type[events.DomainEvent]] = {
    cls.__name__: cls
    for cls in (
        events.PortfolioCut,
        events.ReceivableRemoved,
        events.PortfolioClosed,
        events.AmountDueToBuyer,
        events.AmountDueWithdrawn,
        events.PutbackCandidateFound,
        events.PutbackCandidateWithdrawn,
        events.PutbackRequested,
        events.PutbackAccepted,
        events.PutbackRejected,
        events.RemittanceRecorded,
        events.JournalEntryRequested,
    )
}
"""Every domain event by its wire name: what the outbox publishes, consumers decode back."""

_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(name: str) -> TypeAdapter[Any]:
    """The (lazily built, then reused) pydantic adapter of one message type."""
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        adapter = _ADAPTERS[name] = TypeAdapter(MESSAGE_TYPES[name])
    return adapter


def type_name(message: object) -> str:
    """The wire name of a message (its class name)."""
    name = type(message).__name__
    if name not in MESSAGE_TYPES:
        raise DomainError("codec.type", f"{name} is not a message type")
    return name


def encode(message: object) -> dict[str, Any]:
    """``{"type": "InvoiceRecorded", "data": {...}}`` with JSON-safe values only."""
    name = type_name(message)
    return {"type": name, "data": _adapter(name).dump_python(message, mode="json")}


def _float_path(value: object, path: str = "data") -> str | None:
    """Where the first float hides in decoded JSON, if anywhere."""
    if isinstance(value, float):
        return path
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)  # type: ignore[assignment]
    else:
        return None
    for key, item in items:
        found = _float_path(item, f"{path}.{key}")
        if found:
            return found
    return None


def _refuse_float(text: str) -> Any:
    raise DomainError("codec.no_floats", f"{text} is a JSON float; send amounts as decimal strings")


def load_json(body: bytes | str) -> Any:
    """Parse a message body, refusing JSON floats as they are read (no second pass)."""
    try:
        return json.loads(body, parse_float=_refuse_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DomainError("envelope.json", f"body is not JSON: {error}") from None


def decode(envelope: Mapping[str, Any], *, floats_refused: bool = False) -> Any:
    """The message an envelope carries; a malformed one raises naming what is wrong.

    ``floats_refused``: the envelope came from ``load_json``, which already refused
    floats, so the walk looking for them is skipped.
    """
    name = envelope.get("type")
    cls = MESSAGE_TYPES.get(str(name))
    if cls is None:
        raise DomainError("codec.type", f"unknown message type {name!r}")
    data = envelope.get("data")
    if not isinstance(data, Mapping):
        raise DomainError("codec.data", f"{name}: 'data' must be an object")
    where = None if floats_refused else _float_path(data)
    if where:
        raise DomainError(
            "codec.no_floats", f"{name}: {where} is a JSON float; send amounts as decimal strings"
        )
    try:
        return _adapter(str(name)).validate_python(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise DomainError("codec.invalid", f"{name}: {problems}") from None
    except DomainError as error:  # a value the domain refuses (currency, float …)
        raise DomainError("codec.invalid", f"{name}: {error}") from None


def encode_event(event: events.DomainEvent) -> dict[str, Any]:
    """``{"type": "PortfolioClosed", "data": {...}}``: an event as the outbox publishes it."""
    name = type(event).__name__
    if name not in EVENT_TYPES:
        raise DomainError("codec.type", f"{name} is not an event type")
    return {"type": name, "data": _event_adapter(name).dump_python(event, mode="json")}


def decode_event(body: bytes | str | Mapping[str, Any]) -> events.DomainEvent:
    """The domain event a published body carries, typed; a malformed one raises DomainError."""
    envelope = body if isinstance(body, Mapping) else load_json(body)
    if not isinstance(envelope, Mapping):
        raise DomainError("event.shape", "an event must be a JSON object")
    name = str(envelope.get("type"))
    if name not in EVENT_TYPES:
        raise DomainError("event.shape", f"unknown event type {name!r}")
    data = envelope.get("data")
    if not isinstance(data, Mapping):
        raise DomainError("event.shape", f"{name}: 'data' must be an object")
    try:
        event: events.DomainEvent = _event_adapter(name).validate_python(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise DomainError("event.shape", f"{name}: {problems}") from None
    return event


def _event_adapter(name: str) -> TypeAdapter[Any]:
    key = f"event:{name}"
    adapter = _ADAPTERS.get(key)
    if adapter is None:
        adapter = _ADAPTERS[key] = TypeAdapter(EVENT_TYPES[name])
    return adapter


def encode_portfolio(portfolio: Portfolio) -> dict[str, Any]:
    """A portfolio as a JSON document; its pending events must have been pulled first."""
    if portfolio.events:
        raise DomainError(
            "codec.pending_events", f"portfolio {portfolio.id} has events not handed to the outbox"
        )
    data: dict[str, Any] = _portfolio_adapter().dump_python(portfolio, mode="json")
    data.pop("events", None)
    data.pop("version", None)  # the store's column, not part of the document
    return data


def decode_portfolio(data: Mapping[str, Any], version: int = 0) -> Portfolio:
    """The portfolio a stored document describes, at the store's ``version``."""
    portfolio: Portfolio = _portfolio_adapter().validate_python(
        {**data, "events": [], "version": version}
    )
    return portfolio


def _portfolio_adapter() -> TypeAdapter[Portfolio]:
    adapter = _ADAPTERS.get("Portfolio")
    if adapter is None:
        adapter = _ADAPTERS["Portfolio"] = TypeAdapter(Portfolio)
    return adapter
