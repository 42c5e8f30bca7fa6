"""Invoices as PDFs, as Xero answers ``GET Invoices/{id}`` with ``Accept: application/pdf``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF

from connectors.xero.schemas import xero_date

__all__ = ["invoice_pdf"]


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(tenant: str, invoice: dict[str, Any]) -> bytes:
    """The invoice as a one-page PDF (dated the invoice's day: the same bytes each time)."""
    issued = xero_date(invoice["Date"])
    pdf = FPDF(format="Letter")
    if issued is not None:
        pdf.set_creation_date(datetime(issued.year, issued.month, issued.day, tzinfo=UTC))
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, f"Invoice {invoice['InvoiceNumber']}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    for line in (
        f"Invoice date: {issued}",
        f"Due date: {xero_date(invoice.get('DueDate'))}",
        f"To: {invoice['Contact'].get('Name', '')}",
        f"Total: {invoice['Total']:,} {invoice['CurrencyCode']}",
        f"Organisation {tenant}, invoice id {invoice['InvoiceID']}",
    ):
        pdf.cell(0, 8, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
