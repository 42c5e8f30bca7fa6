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
from connectors.xero.mapping import is_forwardflow_reference
from connectors.xero.platform import Xero
from debtsale.portfolio import Portfolio
from demo.outputs import closed_in_books
from demo.result import DemoError
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.firm import seed_emulated_firm
from emulators.quickbooks.server import EmulatorServer
from emulators.xero.app import XeroEmulator
from emulators.xero.firm import seed_xero_firm
from emulators.xero.server import XeroServer

__all__ = ["FIRMS", "DemoFirm", "QuickBooksFirm", "XeroFirm"]


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


class XeroFirm:
    """The firm on the Xero emulator: one organisation, the same three years of books."""

    platform = Xero.name
    title = "Xero"
    company_id = "7d4f3b52-2b0e-4c1e-9a51-5f0e6d2c0a17"

    def __init__(self) -> None:
        self.emulator = XeroEmulator(retry_scale=0.05)
        # the emulator is not Xero: no need to keep under 60 calls a minute while the
        # sale's credit notes close 2,000 invoices
        self.emulator.limits.per_minute = 20_000
        self.emulator.limits.per_day = 1_000_000
        self.org = self.emulator.organisation(self.company_id, name="Harbor & Summit LLP")
        self.disputed: list[str] = []
        self.bankrupt: list[str] = []
        self._server: XeroServer | None = None

    def seed(self, cutoff: date) -> str:
        firm = seed_xero_firm(self.org, cutoff)
        self.disputed, self.bankrupt = firm.disputed, firm.bankrupt
        return (
            f"Xero emulator seeded: {len(firm.customers):,} contacts, "
            f"{len(self.org.invoices):,} invoices over three years"
        )

    @contextmanager
    def serve(self) -> Iterator[None]:
        with XeroServer(self.emulator) as server:
            self._server = server
            yield

    def settings(self, port: int) -> BaseModel:
        if self._server is None:
            raise RuntimeError("serve() the emulator before asking for its settings")
        return self._server.settings(
            redirect_uri=f"http://127.0.0.1:{port}/callback/xero",
            catch_up_minutes=0,
            calls_per_minute=20_000,
        )

    def send_webhooks_to(self, url: str) -> None:
        self.emulator.send_webhooks_to(url)

    def pay(self, customer_id: str, on: date, amounts: dict[str, Decimal]) -> str:
        paid = [self.org.pay(invoice, amount, on) for invoice, amount in amounts.items()]
        return str(paid[-1]["PaymentID"])

    def journal_entries(self) -> list[dict[str, Any]]:
        return list(self.org.manual_journals.values())

    def closed_in_books(self, portfolio: Portfolio) -> tuple[int, int]:
        sold = {line.receivable_id for line in portfolio.sold_lines()}
        reinstated = {
            record.request.receivable_id
            for record in portfolio.putbacks.values()
            if record.decision.reinstated
        }
        still_open = (sold & self.org.open_invoices()) - reinstated
        if still_open:
            raise DemoError(f"{len(still_open)} sold invoices are still open in Xero")
        notes = self.org.credit_notes_referenced(is_forwardflow_reference)
        return len(sold - reinstated), len(notes)


FIRMS: dict[str, Callable[[], DemoFirm]] = {
    QuickBooksFirm.platform: QuickBooksFirm,
    XeroFirm.platform: XeroFirm,
}
"""The demo's firm on each platform it can tell the story on, by registry name."""
