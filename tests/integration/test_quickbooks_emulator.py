"""The emulator's own promises: signed webhooks with Intuit's retries, control, slow faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import httpx
import pytest

from connectors.quickbooks.webhook import parse_notices, verify_signature
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.server import EmulatorServer
from testkit.quickbooks_api import MemoryTokenStore, connect_company


class _Receiver(BaseHTTPRequestHandler):
    failures_left: ClassVar[int] = 2
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        verify_signature(body, self.headers["intuit-signature"], "emulator-verifier")
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(500)
        else:
            type(self).received.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.failures_left, _Receiver.received = 2, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/quickbooks"
    server.shutdown()


@pytest.mark.parametrize("shape", ["cloudevents", "legacy"])
def test_webhooks_are_signed_retried_and_kept_in_order(receiver: str, shape: str) -> None:
    emulator = Emulator(webhook_url=receiver, webhook_format=shape, retry_scale=0.01)
    company = emulator.company("77")
    customer = company.add_customer("Acme")["Id"]
    invoice = company.add_invoice(customer, "90.00", date(2025, 1, 2))["Id"]
    company.void_invoice(invoice)
    emulator.flush_webhooks()
    emulator.stop_webhooks()
    notices = [n for body in _Receiver.received for n in parse_notices(body)]
    assert [(n.entity, n.operation) for n in notices] == [
        ("Customer", "created"),
        ("Invoice", "created"),
        ("Invoice", "voided"),
    ]


def test_control_endpoints_change_data_and_a_slow_fault_delays() -> None:
    emulator = Emulator(slow_seconds=0.5)
    company = emulator.company("78")
    customer = company.add_customer("Acme")["Id"]
    invoice = company.add_invoice(customer, "90.00", date(2025, 1, 2))["Id"]
    with EmulatorServer(emulator) as server:
        paid = httpx.post(
            f"{server.url}/_emulator/78/payment",
            content=json.dumps(
                {"customer": customer, "date": "2025-02-01", "applies": {invoice: "30.00"}}
            ),
        )
        assert paid.status_code == 200, paid.text
        api = connect_company(server, "78", MemoryTokenStore())
        emulator.inject("slow", path=f"/invoice/{invoice}")
        began = time.monotonic()
        read = api.read("Invoice", invoice)
        assert time.monotonic() - began >= 0.5
    assert read is not None
    assert str(read["Balance"]) == "60.0"
