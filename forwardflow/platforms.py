"""The registry of accounting platforms: the one place the wiring names one.

Adding a platform adds a package under ``connectors/`` implementing
``connectors.platform.Platform`` and a line here; nothing else in the wiring changes.
"""

from __future__ import annotations

from connectors.platform import Platform
from connectors.quickbooks.platform import QuickBooks
from connectors.xero.platform import Xero

__all__ = ["PLATFORMS"]

PLATFORMS: tuple[type[Platform], ...] = (QuickBooks, Xero)
"""Every platform forwardflow can connect, in the order commands and pages list them."""
