"""Fakes of the delivery's ports for tests: a document source that answers from memory."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FakeDocuments"]


@dataclass
class FakeDocuments:
    """A ``DocumentSource``: a small PDF per receivable, none for ``without``; counts calls."""

    without: frozenset[str] = frozenset()
    calls: list[tuple[str, str]] = field(default_factory=list)

    def invoice_pdf(self, tenant: str, receivable_id: str) -> bytes | None:
        """A minimal PDF naming the receivable, or None for the ones listed in ``without``."""
        self.calls.append((tenant, receivable_id))
        if receivable_id in self.without:
            return None
        return f"%PDF-1.4\n% invoice {receivable_id} of {tenant}\n%%EOF\n".encode()
