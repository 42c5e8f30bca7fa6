"""The demo's invoice PDFs: a stand-in for the platform's own until its connector serves them.

QuickBooks renders an invoice at ``GET /v3/company/{realm}/invoice/{id}/pdf``; once the
QuickBooks connector exposes that as a ``DocumentSource`` (and the emulator serves the
route), the demo uses it and this module goes. Until then the demo renders each invoice
from the emulator's own record, so its delivery carries the documents archive a buyer
gets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from fpdf import FPDF

from connectors.quickbooks.emulator.company import EmulatedCompany

__all__ = ["EmulatedInvoicePdfs"]


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


class EmulatedInvoicePdfs:
    """A ``DocumentSource`` rendering the emulated company's invoices as one-page PDFs."""

    def __init__(self, company: EmulatedCompany) -> None:
        self._company = company

    def invoice_pdf(self, tenant: str, receivable_id: str) -> bytes | None:
        """The invoice as a PDF, or None if the company has no such invoice."""
        invoice: dict[str, Any] | None = self._company.entities["Invoice"].get(receivable_id)
        if invoice is None or invoice.get("status") == "Deleted":
            return None
        pdf = FPDF(format="Letter")
        # dated the invoice's day: the same invoice makes the same bytes
        issued = date.fromisoformat(invoice["TxnDate"])
        pdf.set_creation_date(datetime.combine(issued, time(), tzinfo=UTC))
        pdf.add_page()
        pdf.set_font("helvetica", "B", 16)
        pdf.cell(0, 10, f"Invoice {invoice['DocNumber']}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=11)
        for line in (
            f"Invoice date: {invoice['TxnDate']}",
            f"Due date: {invoice.get('DueDate', '')}",
            f"Bill to: {invoice['CustomerRef'].get('name', '')}",
            f"Total: {invoice['TotalAmt']:,} {invoice['CurrencyRef']['value']}",
            f"Company {tenant}, invoice id {receivable_id}",
        ):
            pdf.cell(0, 8, _latin1(line), new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())
