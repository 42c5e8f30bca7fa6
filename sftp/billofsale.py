"""The bill of sale as a PDF (fpdf2): one page, the same bytes every time it is made."""

from __future__ import annotations

from datetime import UTC, datetime, time

from fpdf import FPDF

from debtsale.billofsale import BillOfSale

__all__ = ["bill_of_sale_pdf"]


def _latin1(text: str) -> str:
    """The PDF's core font is Latin-1: anything else is shown as '?', never fails."""
    return text.encode("latin-1", "replace").decode("latin-1")


def bill_of_sale_pdf(bill: BillOfSale) -> bytes:
    """The bill rendered as PDF; dated the closing day, uncompressed, so it is reproducible
    and its figures can be found in the bytes by a plain search."""
    pdf = FPDF(format="Letter")
    pdf.set_creation_date(datetime.combine(bill.closing, time(), tzinfo=UTC))
    pdf.set_compression(False)
    pdf.set_title(_latin1(bill.title))
    pdf.set_author(_latin1(bill.seller_name))
    pdf.set_subject(_latin1(f"sale file SHA-256 {bill.file_sha256}"))
    pdf.add_page()
    pdf.set_margins(20, 20, 20)
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(bill.title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("helvetica", size=11)
    for paragraph in bill.paragraphs():
        pdf.multi_cell(0, 6, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.ln(2)
    for label, value in bill.particulars():
        pdf.set_font("helvetica", "B", 10)
        pdf.cell(55, 6, _latin1(label))
        fixed = "SHA-256" in label or "key" in label  # 64 hex digits fit one line at 8 pt
        pdf.set_font("courier" if fixed else "helvetica", size=8 if fixed else 9)
        pdf.multi_cell(0, 6, _latin1(value or "-"), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(
        0,
        6,
        _latin1(f"Signed for {bill.seller_name} by its OpenPGP key {bill.seller_fingerprint}."),
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
