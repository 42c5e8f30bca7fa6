"""Closed sales and their files, and a document source in memory, for delivery tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from debtsale.agreement import Agreement
from debtsale.portfolio import Portfolio
from debtsale.salefile import in_chunks, sale_file_summary, sold_rows
from sftp.companions import DocumentRequest
from sftp.deliver import SaleFile
from testkit.builders import LedgerBuilder, sample_agreement

__all__ = ["FakeDocuments", "sample_sale"]


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


def sample_sale(
    count: int = 40, *, documents: FakeDocuments | None = None
) -> tuple[Portfolio, SaleFile, Agreement]:
    """``count`` receivables (one debtor named like a spreadsheet formula) cut and closed
    under the sample agreement, and their file; ``documents`` promises invoice PDFs."""
    book = LedgerBuilder(tenant="t1")
    for n in range(count):
        book.customer(f"C{n}", legal_name=f"Debtor Ñandú {n}")
        book.invoice(f"I{n:03}", f"C{n}", f"{1000 + n}.25", invoice_date=date(2025, 1, 2))
    if count > 1:  # a debtor whose name a spreadsheet would run as a formula
        book.customer("C1", legal_name='=HYPERLINK("http://x","y")', dba="+cmd|' /C calc'!A0")
    agreement = sample_agreement()
    if documents is not None:
        agreement = agreement.model_copy(
            update={"file": agreement.file.model_copy(update={"documents": True})}
        )
    portfolio = Portfolio.cut("P1", agreement, book.ledger, date(2025, 6, 30))
    portfolio.close(agreement, book.ledger, date(2025, 7, 15))
    summary = sale_file_summary(portfolio, agreement)
    assert summary.parties is not None
    sale = SaleFile(
        portfolio_id="P1",
        agreement_id=agreement.id,
        cutoff=portfolio.cutoff,
        closing=date(2025, 7, 15),
        layout_version=summary.layout_version,
        header=list(summary.header),
        chunks=in_chunks(sold_rows(portfolio, book.ledger, agreement)),
        expected=summary.totals,
        parties=summary.parties,
        schema=summary.schema,
        granularity=summary.granularity,
        receivables=summary.receivables,
        documents=DocumentRequest(
            "t1", [line.receivable_id for line in portfolio.sold_lines()], documents
        )
        if documents is not None
        else None,
    )
    return portfolio, sale, agreement
