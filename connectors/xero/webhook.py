"""Xero webhooks: verify ``x-xero-signature`` on the raw bytes, answer 200 with an empty body.

Xero signs the exact request bytes (base64 HMAC-SHA256 with the app's webhook key). It
wants **200 with an empty body** within 5 seconds for a correctly signed body — also for
the *intent to receive* probe, whose ``events`` list is empty — and **401** for any
other signature; it disables a webhook that keeps failing. Events carry a resource URL
only; each becomes a small notice that the fetcher turns into a re-read later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from connectors.xero.schemas import XeroNotice, XeroWebhookBody, parse_xero_time

__all__ = [
    "CATEGORIES",
    "MAX_BODY_BYTES",
    "MalformedBodyError",
    "SignatureError",
    "parse_notices",
    "sign",
    "verify_signature",
    "webhook_endpoint",
]

log = logging.getLogger("forwardflow.xero.webhook")

MAX_BODY_BYTES = 1024 * 1024
CATEGORIES = frozenset({"INVOICE", "CONTACT", "CREDITNOTE"})
"""The event categories forwardflow acts on (SUBSCRIPTION and others are acknowledged)."""


class SignatureError(Exception):
    """Missing or wrong ``x-xero-signature``: answer 401, publish nothing."""


class MalformedBodyError(Exception):
    """A correctly signed body that is not a Xero webhook body: answer 400."""


def sign(body: bytes, key: str) -> str:
    """The ``x-xero-signature`` of ``body`` (what Xero sends; the emulator uses it)."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, signature: str | None, key: str) -> None:
    """Raise SignatureError unless ``signature`` signs exactly ``body`` (constant time)."""
    if not signature:
        raise SignatureError("missing x-xero-signature header")
    if not hmac.compare_digest(sign(body, key).encode(), signature.strip().encode()):
        raise SignatureError("x-xero-signature does not match the body")


def parse_notices(body: bytes) -> list[XeroNotice]:
    """The notices of a verified body, one per distinct resource change it names."""
    try:
        parsed = XeroWebhookBody.model_validate(json.loads(body))
    except ValidationError as error:  # before ValueError: it is one
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedBodyError(f"{where}: {first['msg']}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # deep nesting: Recursion
        raise MalformedBodyError(f"body is not JSON: {type(error).__name__}") from None
    notices: dict[str, XeroNotice] = {}
    for event in parsed.events:
        if event.event_category not in CATEGORIES:
            continue
        key = "|".join(
            (
                event.tenant_id,
                event.event_category,
                event.resource_id,
                event.event_type,
                event.event_date_utc,
            )
        )
        event_id = "xero-wh:" + hashlib.sha256(key.encode()).hexdigest()[:32]
        try:
            occurred = parse_xero_time(event.event_date_utc)
        except ValueError:
            occurred = None
        notices.setdefault(
            event_id,
            XeroNotice(
                event_id=event_id,
                tenant_id=event.tenant_id,
                category=event.event_category,
                resource_id=event.resource_id,
                event_type=event.event_type,
                occurred=occurred,
            ),
        )
    return list(notices.values())


async def _body(request: Request) -> bytes | None:
    """The raw body, or None when it is over MAX_BODY_BYTES (read no further)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
    return b"".join(chunks)


def webhook_endpoint(
    webhook_key: Callable[[], str | None],
    connected: Callable[[set[str]], Awaitable[set[str]]],
    publish: Callable[[list[XeroNotice]], Awaitable[None]],
) -> Callable[[Request], Awaitable[Response]]:
    """``POST /webhooks/xero``: verify, publish the notices of connected tenants, answer.

    200 with an empty body for a valid signature (events of tenants not connected are
    dropped), 401 for a missing or wrong one, 413 over 1 MB, 400 for a signed body that
    is not a webhook, 503 when no key is configured or the broker cannot take notices.
    """

    async def endpoint(request: Request) -> Response:
        body = await _body(request)
        if body is None:
            return Response(status_code=413)
        key = webhook_key()
        if not key:
            log.error("xero webhook refused: no xero.webhook_key configured")
            return Response(status_code=503)
        try:
            verify_signature(body, request.headers.get("x-xero-signature"), key)
        except SignatureError as error:
            log.warning("xero webhook refused: %s", error)
            return Response(status_code=401)
        try:
            notices = parse_notices(body)
        except MalformedBodyError as error:
            log.warning("xero webhook malformed: %s", str(error)[:200])
            return Response(status_code=400)
        ours = await connected({n.tenant_id for n in notices}) if notices else set()
        kept = [n for n in notices if n.tenant_id in ours]
        if len(kept) < len(notices):
            log.info("xero notices for tenants not connected dropped=%d", len(notices) - len(kept))
        if kept:
            try:
                await publish(kept)
            except Exception as error:  # the broker is down: Xero retries a non-200
                log.error("xero webhook notices not queued: %s", type(error).__name__)
                return Response(status_code=503)
        return Response(status_code=200)

    return endpoint
