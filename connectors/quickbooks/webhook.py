"""QuickBooks webhooks: verify the signature on the raw bytes, parse either body shape.

Intuit signs the exact request bytes (``intuit-signature`` = base64 HMAC-SHA256 with the
app's verifier token); anything re-serialised would not verify. Two body shapes reach
the same URL — the legacy ``eventNotifications`` object and a CloudEvents array — and
are told apart by shape, never by content type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.quickbooks.schemas import ChangeNotice, CloudEvent, LegacyBody

__all__ = [
    "MAX_BODY_BYTES",
    "MalformedBodyError",
    "SignatureError",
    "parse_notices",
    "sign",
    "verify_signature",
    "webhook_endpoint",
]

log = logging.getLogger("forwardflow.quickbooks.webhook")

MAX_BODY_BYTES = 2 * 1024 * 1024

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
        return datetime.fromisoformat(value)
    except ValueError:
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


def parse_notices(body: bytes) -> list[ChangeNotice]:
    """The change notices in a (verified) body; MalformedBodyError says what is wrong."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedBodyError(f"body is not JSON: {error}") from None
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


def webhook_endpoint(
    verifier_token: Callable[[], str | None],
    is_connected: Callable[[str], Awaitable[bool]],
    publish: Callable[[list[ChangeNotice]], Awaitable[None]],
) -> Callable[[Request], Awaitable[Response]]:
    """``POST /webhooks/quickbooks``: verify, parse, publish notices, answer at once.

    No platform call happens here: notices are small and the fetcher reads entities
    later, so the answer comes well inside Intuit's 3 seconds.
    """

    async def endpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body over 2 MB"}, status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return JSONResponse({"error": "body over 2 MB"}, status_code=413)
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
            log.warning("webhook malformed: %s", error)
            return JSONResponse({"error": str(error)}, status_code=400)
        known = [n for n in notices if await is_connected(n.realm_id)]
        dropped = len(notices) - len(known)
        if dropped:
            log.info("webhook notices for companies not connected dropped=%d", dropped)
        if known:
            await publish(known)
        return JSONResponse({"accepted": len(known), "dropped": dropped})

    return endpoint
