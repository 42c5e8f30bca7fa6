"""QuickBooks webhooks: verify the signature on the raw bytes, parse either body shape.

Intuit signs the exact request bytes (``intuit-signature`` = base64 HMAC-SHA256 with the
app's verifier token); anything re-serialised would not verify. Two body shapes reach
the same URL — the legacy ``eventNotifications`` object and a CloudEvents array — and
are told apart by shape, never by content type.

A signature proves who sent a body, not that it is harmless: nesting depth and number
sizes are bounded before the JSON parser sees it, every id is checked against
QuickBooks' formats, and a flood of one company's notices is coalesced into one
change-data-capture request, so the answer goes out in well under Intuit's 3 seconds
and a real payment is never queued behind thousands of reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.quickbooks.schemas import COALESCED, ChangeNotice, CloudEvent, LegacyBody

__all__ = [
    "COALESCE_ABOVE",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MalformedBodyError",
    "SignatureError",
    "check_bounds",
    "coalesce",
    "parse_notices",
    "sign",
    "verify_signature",
    "webhook_endpoint",
]

log = logging.getLogger("forwardflow.quickbooks.webhook")

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 16  # Intuit's bodies nest 6 deep (legacy) or 3 (CloudEvents)
MAX_DIGITS = 40  # no number in a webhook comes near this
COALESCE_ABOVE = 50
"""More distinct entity notices than this for one company in one body become one
change-data-capture request for that company."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")

_LEGACY_OPERATIONS = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "merge": "merged",
    "void": "voided",
    "emailed": "emailed",
}
_CLOUD_ACTIONS = {
    "created": "created",
    "updated": "updated",
    "deleted": "deleted",
    "merged": "merged",
    "void": "voided",
    "voided": "voided",
    "emailed": "emailed",
}


class SignatureError(Exception):
    """Missing or wrong ``intuit-signature``: answer 401, publish nothing."""


class MalformedBodyError(Exception):
    """A correctly signed body that is not a webhook we understand: answer 400."""


def sign(body: bytes, verifier_token: str) -> str:
    """The ``intuit-signature`` of ``body`` (what Intuit sends; the emulator uses it)."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(body: bytes, signature: str | None, verifier_token: str) -> None:
    """Raise SignatureError unless ``signature`` signs exactly ``body`` (constant time)."""
    if not signature:
        raise SignatureError("missing intuit-signature header")
    if not hmac.compare_digest(sign(body, verifier_token).encode(), signature.strip().encode()):
        raise SignatureError("intuit-signature does not match the body")


def _time(text: str | None) -> datetime | None:
    """Intuit's several ISO-8601 spellings (``-0700``, ``-07:00``, ``Z``, nanoseconds)."""
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    if "." in value:  # trim fractions beyond microseconds
        head, _, tail = value.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    if len(value) >= 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    try:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _legacy(data: dict[str, Any]) -> list[ChangeNotice]:
    body = LegacyBody.model_validate(data)
    notices = []
    for notification in body.event_notifications:
        for entity in notification.data_change_event.entities:
            operation = _LEGACY_OPERATIONS.get(entity.operation.lower(), entity.operation.lower())
            key = "|".join(
                (
                    notification.realm_id,
                    entity.name,
                    entity.id,
                    operation,
                    entity.last_updated or "",
                )
            )
            notices.append(
                ChangeNotice(
                    event_id="qbo-legacy:" + hashlib.sha256(key.encode()).hexdigest()[:32],
                    realm_id=notification.realm_id,
                    entity=entity.name,
                    entity_id=entity.id,
                    operation=operation,
                    occurred=_time(entity.last_updated),
                    deleted_id=entity.deleted_id,
                )
            )
    return notices


def _cloud(data: list[Any]) -> list[ChangeNotice]:
    notices = []
    for raw in data:
        event = CloudEvent.model_validate(raw)
        parts = event.type.split(".")
        if len(parts) < 3 or parts[0] != "qbo":
            raise MalformedBodyError(
                f"event {event.id}: type {event.type!r} is not qbo.<entity>.<action>"
            )
        entity = parts[1].lower()
        name = {"creditmemo": "CreditMemo", "journalentry": "JournalEntry"}.get(
            entity, entity.capitalize()
        )
        action = _CLOUD_ACTIONS.get(parts[2].lower(), parts[2].lower())
        deleted = (event.data or {}).get("deletedId")
        if deleted is not None and not isinstance(deleted, str | int):
            raise MalformedBodyError(f"event {event.id}: data.deletedId is not an id")
        notices.append(
            ChangeNotice(
                event_id=f"qbo-ce:{event.id}",
                realm_id=event.intuitaccountid,
                entity=name,
                entity_id=event.intuitentityid,
                operation=action,
                occurred=_time(event.time),
                deleted_id=str(deleted) if deleted is not None else None,
            )
        )
    return notices


def _bounded_number(text: str) -> float | int:
    """``parse_int``/``parse_float`` that refuse numbers too long to mean anything."""
    if len(text) > MAX_DIGITS:
        raise MalformedBodyError(f"a number has more than {MAX_DIGITS} characters")
    return float(text) if any(c in text for c in ".eE") else int(text)


def check_bounds(body: bytes) -> None:
    """Refuse nesting deeper than MAX_DEPTH before any parser recurses into it.

    Strings are blanked first (brackets inside them are text); what is left is read as
    a sequence of brackets whose running depth must stay within the bound.
    """
    skeleton = _STRING.sub(b'""', body).translate(None, _NOT_BRACKET)
    steps = (1 if byte in (0x5B, 0x7B) else -1 for byte in skeleton)
    if max(itertools.accumulate(steps), default=0) > MAX_DEPTH:
        raise MalformedBodyError(f"the body nests deeper than {MAX_DEPTH} levels")


def parse_notices(body: bytes) -> list[ChangeNotice]:
    """The change notices in a (verified) body; MalformedBodyError says what is wrong."""
    check_bounds(body)
    try:
        data = json.loads(body, parse_int=_bounded_number, parse_float=_bounded_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedBodyError(f"body is not JSON: {error}") from None
    except (RecursionError, ValueError) as error:  # a parser limit: never a 500
        raise MalformedBodyError(f"body is not usable JSON: {type(error).__name__}") from None
    try:
        if isinstance(data, list):
            return _cloud(data)
        if isinstance(data, dict) and "eventNotifications" in data:
            return _legacy(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedBodyError(f"{where}: {first['msg']}") from None
    raise MalformedBodyError("expected a CloudEvents array or an object with eventNotifications")


def coalesce(
    notices: list[ChangeNotice], above: int = COALESCE_ABOVE, now: datetime | None = None
) -> list[ChangeNotice]:
    """Deduplicate by entity; a company with more than ``above`` left gets one notice.

    Re-reading an entity reads its current state, so two notices for the same entity
    and operation in one body are one read. A company with more than ``above``
    distinct entities changed gets a single ``coalesced`` notice instead: the fetcher
    runs change-data-capture for it (a few queries for any number of changes), so a
    flood costs one message and cannot hold up the next body's notices. Its id derives
    from the ids it replaces, so Intuit resending the same body is still deduplicated.
    """
    now = now or datetime.now(UTC)
    by_realm: dict[str, dict[tuple[str, str, str, str | None], ChangeNotice]] = {}
    for notice in notices:
        key = (notice.entity, notice.entity_id, notice.operation, notice.deleted_id)
        by_realm.setdefault(notice.realm_id, {}).setdefault(key, notice)
    kept: list[ChangeNotice] = []
    for realm, distinct in by_realm.items():
        if len(distinct) <= above:
            kept.extend(distinct.values())
            continue
        digest = hashlib.sha256("\n".join(sorted(n.event_id for n in distinct.values())).encode())
        kept.append(
            ChangeNotice(
                event_id=f"qbo-coalesced:{realm}:{digest.hexdigest()[:32]}",
                realm_id=realm,
                entity="*",
                entity_id="*",
                operation=COALESCED,
                occurred=now,
                coalesced=len(distinct),
            )
        )
    return kept


def webhook_endpoint(
    verifier_token: Callable[[], str | None],
    connected: Callable[[set[str]], Awaitable[set[str]]],
    publish: Callable[[list[ChangeNotice]], Awaitable[None]],
) -> Callable[[Request], Awaitable[Response]]:
    """``POST /webhooks/quickbooks``: verify, parse, publish notices, answer at once.

    No platform call happens here: notices are small, floods are coalesced and the
    fetcher reads entities later, so the answer comes well inside Intuit's 3 seconds.
    Whatever a signed body holds, the answer is 200, 400 or 413, never a 500.
    ``connected(realms)`` answers which of the named companies are connected (one
    look-up per body, however many companies it names).
    """

    async def endpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body over 2 MB"}, status_code=413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return JSONResponse({"error": "body over 2 MB"}, status_code=413)
        body = b"".join(chunks)
        token = verifier_token()
        if not token:
            return JSONResponse({"error": "no verifier token configured"}, status_code=503)
        try:
            verify_signature(body, request.headers.get("intuit-signature"), token)
        except SignatureError as error:
            log.warning("webhook refused: %s", error)
            return JSONResponse({"error": str(error)}, status_code=401)
        try:
            notices = parse_notices(body)
        except MalformedBodyError as error:
            log.warning("webhook malformed: %s", str(error)[:200])
            return JSONResponse({"error": str(error)[:500]}, status_code=400)
        ours = await connected({n.realm_id for n in notices}) if notices else set()
        known = [n for n in notices if n.realm_id in ours]
        dropped = len(notices) - len(known)
        if dropped:
            log.info("webhook notices for companies not connected dropped=%d", dropped)
        kept = coalesce(known)
        if kept:
            try:
                await publish(kept)
            except Exception as error:  # the broker is down: Intuit retries a non-200
                log.error("webhook notices not queued: %s", type(error).__name__)
                return JSONResponse(
                    {"error": "notices could not be queued; send again later"}, status_code=503
                )
        return JSONResponse({"accepted": len(known), "dropped": dropped, "published": len(kept)})

    return endpoint
