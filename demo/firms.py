"""The firm the demo sells from, on each platform's emulator: one protocol, one class each.

The story (``demo.story``) is told once; what differs per platform — which emulator holds
the firm's books, how it is served, the platform's settings section, how a customer pays,
where the journal entries land and how the books show the sold invoices closed — lives
behind ``DemoFirm``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr

from connectors.quickbooks.platform import QuickBooks
from connectors.quickbooks.settings import QuickBooksSettings
from debtsale.portfolio import Portfolio
from demo.outputs import closed_in_books
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.firm import seed_emulated_firm
from emulators.quickbooks.server import EmulatorServer

__all__ = ["FIRMS", "DemoFirm", "QuickBooksFirm"]


class DemoFirm(Protocol):
    """A firm's books on one platform's emulator, as the demo needs them."""

    platform: str
    """The platform's registry name (``forwardflow <platform> …``, ``[<platform>]``)."""
    title: str
    """How people name the platform."""
    company_id: str
    """The firm's company (realm, tenant) id on the platform."""
    disputed: list[str]
    bankrupt: list[str]

    def seed(self, cutoff: date) -> str:
        """Fill the emulator with three years of the firm's books; say what is there."""

    def serve(self) -> Any:
        """A context manager serving the emulator over HTTP on loopback while it is open."""

    def settings(self, port: int) -> BaseModel:
        """The platform's settings section pointing forwardflow (on ``port``) at the emulator."""

    def send_webhooks_to(self, url: str) -> None:
        """Where the emulator delivers its signed webhooks."""

    def pay(self, customer_id: str, on: date, amounts: dict[str, Decimal]) -> str:
        """The customer pays invoices in the platform; the payment's id."""

    def journal_entries(self) -> list[dict[str, Any]]:
        """The journal entries forwardflow posted to the platform."""

    def closed_in_books(self, portfolio: Portfolio) -> tuple[int, int]:
        """(sold invoices closed in the platform's books, by how many applications)."""


class QuickBooksFirm:
    """The firm on the QuickBooks Online emulator."""

    platform = QuickBooks.name
    title = "QuickBooks"
    company_id = "4620816365"

    def __init__(self) -> None:
        self.emulator = Emulator(retry_scale=0.05)
        self.company = self.emulator.company(self.company_id)
        self.disputed: list[str] = []
        self.bankrupt: list[str] = []
        self._server: EmulatorServer | None = None

    def seed(self, cutoff: date) -> str:
        firm = seed_emulated_firm(self.company, cutoff)
        self.disputed, self.bankrupt = firm.disputed, firm.bankrupt
        return (
            f"QuickBooks emulator seeded: {len(firm.customers):,} customers, "
            f"{len(self.company.entities['Invoice']):,} invoices over three years"
        )

    @contextmanager
    def serve(self) -> Iterator[None]:
        with EmulatorServer(self.emulator) as server:
            self._server = server
            yield

    def settings(self, port: int) -> BaseModel:
        if self._server is None:
            raise RuntimeError("serve() the emulator before asking for its settings")
        return QuickBooksSettings(
            client_id=self.emulator.client_id,
            client_secret=SecretStr(self.emulator.client_secret),
            verifier_token=SecretStr(self.emulator.verifier_token),
            redirect_uri=f"http://127.0.0.1:{port}/callback/quickbooks",
            api_base_url=self._server.api_url_v3,
            discovery_url=self._server.discovery_url,
            catch_up_minutes=0,
            # the emulator is not Intuit: no need to keep under 500 calls a minute while
            # the sale's applications close 2,000 invoices
            calls_per_minute=20_000,
        )

    def send_webhooks_to(self, url: str) -> None:
        self.emulator.webhook_url = url

    def pay(self, customer_id: str, on: date, amounts: dict[str, Decimal]) -> str:
        applied: dict[str, Decimal | str] = dict(amounts)
        return str(self.company.post_payment(customer_id, on, applied)["Id"])

    def journal_entries(self) -> list[dict[str, Any]]:
        return list(self.company.all("JournalEntry"))

    def closed_in_books(self, portfolio: Portfolio) -> tuple[int, int]:
        return closed_in_books(self.company, portfolio)


FIRMS: dict[str, Callable[[], DemoFirm]] = {QuickBooksFirm.platform: QuickBooksFirm}
"""The demo's firm on each platform it can tell the story on, by registry name."""
