"""Sold invoices' documents for the buyer, from the platform each tenant belongs to."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from connectors.platform import PlatformError

if TYPE_CHECKING:
    from forwardflow.bootstrap import Forwardflow

__all__ = ["PlatformDocuments"]


class PlatformDocuments:
    """A ``sftp.documents.DocumentSource`` over the registered platforms."""

    def __init__(self, app: Forwardflow) -> None:
        self._app = app
        self._readers: dict[str, tuple[str, Callable[[str], bytes | None]]] = {}
        self._lock = threading.Lock()

    def _reader(self, tenant: str) -> tuple[str, Callable[[str], bytes | None]] | None:
        with self._lock:
            if tenant not in self._readers:
                found = self._app.platform_of(tenant)
                if found is None:
                    return None
                wired, company = found
                self._readers[tenant] = (
                    wired.platform.title,
                    wired.platform.invoice_pdfs(wired, company),
                )
            return self._readers[tenant]

    def invoice_pdf(self, tenant: str, receivable_id: str) -> bytes | None:
        """The invoice as its platform renders it; None when the tenant is no platform's or
        the invoice is gone. A platform failure is an OSError: the delivery retries it."""
        reader = self._reader(tenant)
        if reader is None:
            return None
        title, read = reader
        try:
            return read(receivable_id)
        except PlatformError as error:
            raise OSError(f"{title} could not give invoice PDFs: {error}") from error
