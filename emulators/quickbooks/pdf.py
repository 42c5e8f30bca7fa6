"""Invoices as PDFs, as QuickBooks answers ``GET …/invoice/{id}/pdf``: one page, the same
bytes for the same invoice (dated the invoice's day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from fpdf import FPDF

from emulators.quickbooks.company import EmulatedCompany

__all__ = ["invoice_pdf"]


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(company: EmulatedCompany, receivable_id: str) -> bytes | None:
    """The invoice as a one-page PDF, or None if the company has no such invoice."""
    tenant = company.realm_id
    invoice: dict[str, Any] | None = company.entities["Invoice"].get(receivable_id)
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
