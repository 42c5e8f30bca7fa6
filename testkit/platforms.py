"""The platform contract's test side: an in-memory context and, per platform, a kit.

Every registered platform must pass the same contract suite
(``tests/integration/test_platform_contract.py``): its webhook verifies and refuses, a
notice becomes ledger changes, catch-up runs from a checkpoint, an expired token is
refreshed once, a journal entry posted twice is in the books once. A kit starts the
platform's emulator and answers the few platform-specific questions the suite asks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from connectors.platform import Platform, Publish
from debtsale.changes import LedgerChange
from testkit.quickbooks_api import MemoryCheckpoints, MemoryPaymentLinks, MemoryTokenStore

__all__ = ["KITS", "KitRun", "MemoryContext", "PlatformKit"]


class MemoryContext:
    """A ``PlatformContext`` in memory: stores in dicts, publishing into lists."""

    def __init__(self, settings: Any, companies: set[str]) -> None:
        self.settings = settings
        self.companies = companies
        self.tokens = MemoryTokenStore()
        self.checkpoints = MemoryCheckpoints()
        self.payment_links = MemoryPaymentLinks()
        self.published: list[LedgerChange] = []
        self.notices: list[tuple[str, str, bytes]] = []

    def publisher(self, company_id: str) -> Publish:
        """Changes land in ``published``."""

        def publish(changes: Sequence[LedgerChange]) -> None:
            self.published.extend(changes)

        return publish

    async def publish_notices(self, notices: Sequence[tuple[str, str, bytes]]) -> None:
        """Notices land in ``notices``."""
        self.notices.extend(notices)

    async def connected(self, company_ids: set[str]) -> set[str]:
        """Those of the companies the kit connected."""
        return company_ids & self.companies


class KitRun(Protocol):
    """A platform's emulator running, one company connected through ``context``."""

    platform: Platform
    context: MemoryContext
    company_id: str

    def new_invoice(self) -> tuple[str, bytes, dict[str, str]]:
        """Create an invoice; its id, and the signed webhook (body, headers) announcing it."""
        ...

    def forged(self, headers: dict[str, str]) -> dict[str, str]:
        """The same headers with a signature that does not verify."""
        ...

    def expire_tokens(self) -> None:
        """Make the company's access token expire at the platform."""
        ...

    def entries_in_books(self) -> int:
        """How many journal entries the platform's books hold."""
        ...

    def checkpoint_entities(self) -> list[str]:
        """The entities catch-up keeps a checkpoint for."""
        ...

    def now(self) -> datetime:
        """The platform's clock."""
        ...


class PlatformKit(Protocol):
    """Starts a platform's emulator for the contract suite."""

    def running(self) -> AbstractContextManager[KitRun]:
        """The emulator up, a company connected."""
        ...


def _quickbooks() -> PlatformKit:
    from testkit.quickbooks import QuickBooksKit

    return QuickBooksKit()


def _xero() -> PlatformKit:
    from testkit.xero import XeroKit

    return XeroKit()


KITS: dict[str, Callable[[], PlatformKit]] = {"quickbooks": _quickbooks, "xero": _xero}
"""A kit per registered platform (a platform without one fails the contract suite)."""


def _conforms(context: MemoryContext) -> None:  # pragma: no cover - checked by mypy
    from connectors.platform import PlatformContext

    _: PlatformContext = context
