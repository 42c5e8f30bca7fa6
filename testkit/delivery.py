"""A small closed sale and its file, for delivery tests."""

from __future__ import annotations

from datetime import date

from debtsale.agreement import Agreement
from debtsale.portfolio import Portfolio
from debtsale.salefile import in_chunks, sale_file_header, sold_rows, totals_of
from sftp.deliver import SaleFile
from testkit.builders import LedgerBuilder, sample_agreement

__all__ = ["sample_sale"]


def sample_sale(count: int = 40) -> tuple[Portfolio, SaleFile, Agreement]:
    """``count`` receivables cut and closed under the sample agreement, and their file."""
    book = LedgerBuilder(tenant="t1")
    for n in range(count):
        book.customer(f"C{n}", legal_name=f"Debtor Ñandú {n}")
        book.invoice(f"I{n:03}", f"C{n}", f"{1000 + n}.25", invoice_date=date(2025, 1, 2))
    agreement = sample_agreement()
    portfolio = Portfolio.cut("P1", agreement, book.ledger, date(2025, 6, 30))
    portfolio.close(agreement, book.ledger, date(2025, 7, 15))
    sale = SaleFile(
        portfolio_id="P1",
        agreement_id=agreement.id,
        cutoff=portfolio.cutoff,
        closing=date(2025, 7, 15),
        layout_version=agreement.file.version,
        header=sale_file_header(agreement),
        chunks=in_chunks(sold_rows(portfolio, book.ledger, agreement)),
        expected=totals_of(portfolio),
    )
    return portfolio, sale, agreement
