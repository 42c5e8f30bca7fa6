"""Signed webhook batches out of the emulator, with Xero's retries (scaled) and the
intent-to-receive check Xero runs before it enables a webhook."""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field

import httpx

from connectors.xero.webhook import sign
from emulators.xero.org import Change

__all__ = ["WebhookSender", "event_body"]

_RETRY_S = (5, 30, 60, 300, 900, 3600, 3600, 3600)  # then hourly, until Xero gives up at 24 h


def event_body(tenant: str, changes: list[Change], sequence: int) -> bytes:
    """The body Xero sends for changes of one organisation (no ``Z`` on the times)."""
    events = [
        {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/{_plural(c.category)}/{c.resource_id}",
            "resourceId": c.resource_id,
            "eventDateUtc": c.at.replace(tzinfo=None).isoformat(timespec="milliseconds"),
            "eventType": c.event_type,
            "eventCategory": c.category,
            "tenantId": tenant,
            "tenantType": "ORGANISATION",
        }
        for c in changes
    ]
    return json.dumps(
        {
            "events": events,
            "firstEventSequence": sequence,
            "lastEventSequence": sequence + max(len(events) - 1, 0),
            "entropy": secrets.token_hex(10).upper(),
        }
    ).encode()


def _plural(category: str) -> str:
    return {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}.get(
        category, category
    )


@dataclass
class WebhookSender:
    """Posts signed bodies in order; a failed one is retried and later ones wait."""

    key: str
    url: str | None = None
    retry_scale: float = 1.0
    lost: int = 0  # the next ``lost`` bodies are dropped before sending (a lost webhook)
    delivered: list[bytes] = field(default_factory=list)
    _outbox: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _sequence: int = 0

    def send(self, tenant: str, changes: list[Change]) -> None:
        """Queue one body for these changes."""
        if not self.url:
            return
        if self.lost > 0:
            self.lost -= 1
            return
        self._sequence += 1
        self._outbox.put(event_body(tenant, changes, self._sequence))
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        with httpx.Client(timeout=5) as client:  # Xero waits 5 s for an answer
            while (body := self._outbox.get()) is not None:
                headers = {
                    "x-xero-signature": sign(body, self.key),
                    "content-type": "application/json",
                }
                for attempt in range(len(_RETRY_S) + 1):
                    try:
                        answer = client.post(str(self.url), content=body, headers=headers)
                        if answer.status_code == 200:
                            self.delivered.append(body)
                            break
                    except httpx.HTTPError:
                        pass
                    if attempt == len(_RETRY_S) or self._stopping.wait(
                        _RETRY_S[attempt] * self.retry_scale
                    ):
                        break
                self._outbox.task_done()

    def intent_to_receive(self) -> bool:
        """Xero's check: a correctly signed empty batch must get 200 with an empty body,
        a wrongly signed one 401. True when the endpoint passes both."""
        if not self.url:
            return False
        body = event_body("", [], 0)
        with httpx.Client(timeout=5) as client:
            good = client.post(
                self.url, content=body, headers={"x-xero-signature": sign(body, self.key)}
            )
            bad = client.post(
                self.url, content=body, headers={"x-xero-signature": sign(body, "not-the-key")}
            )
        return good.status_code == 200 and good.content == b"" and bad.status_code == 401

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every body queued so far was delivered (or given up)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop retrying; the sender thread ends."""
        self._stopping.set()
        self._outbox.put(None)
