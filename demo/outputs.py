"""What the demo leaves behind and checks last: the firm's books, the files, the figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from connectors.quickbooks.writeback import is_forwardflow_number
from debtsale.portfolio import Portfolio
from debtsale.reports import ReconciliationReport, as_data
from demo.result import DemoError, DemoResult
from emulators.quickbooks.books import open_items
from emulators.quickbooks.company import EmulatedCompany

__all__ = ["closed_in_books", "write_outputs"]


def closed_in_books(company: EmulatedCompany, portfolio: Portfolio) -> tuple[int, int]:
    """The firm's own books after the sale: the aging lists no sold invoice; (closed, by how
    many applications)."""
    sold = {line.receivable_id for line in portfolio.sold_lines()}
    open_sold = {
        item.txn_id
        for item in open_items(company)
        if item.txn_type == "Invoice" and item.txn_id in sold
    }
    reinstated = {  # put back to be pursued again: open at the refund
        record.request.receivable_id
        for record in portfolio.putbacks.values()
        if record.decision.reinstated
    }
    if open_sold - reinstated:
        raise DemoError(f"{len(open_sold - reinstated)} sold invoices are still open")
    applications = sum(
        1 for p in company.all("Payment") if is_forwardflow_number(p.get("PaymentRefNum"))
    )
    closed = len(sold - reinstated)
    return closed, applications


def write_outputs(
    result: DemoResult,
    portfolio: Portfolio,
    entries: list[dict[str, Any]],
    encrypted: Path,
    manifest: Path,
) -> None:
    """The reconciliation (JSON, CSV) and the posted entries in ``out/``; files and figures."""
    reconciliation = ReconciliationReport.of(portfolio)
    result.reconciliation = reconciliation
    out = result.workdir / "out"
    out.mkdir(exist_ok=True)
    json_path = out / f"reconciliation-{portfolio.id}.json"
    json_path.write_text(json.dumps(as_data(reconciliation), indent=2))
    csv_path = out / f"reconciliation-{portfolio.id}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(reconciliation.csv_rows())
    journal_path = out / "journal-entries-posted.json"
    journal_path.write_text(json.dumps(entries, indent=2, default=str))
    result.files.update(
        encrypted_sale_file=str(encrypted.resolve()),
        delivered_folder=str(manifest.parent.resolve()),
        manifest=str(manifest.resolve()),
        buyer_secret_key=str((result.workdir / "buyer" / "buyer-secret-key.asc").resolve()),
        seller_certificate=str((result.workdir / "data" / "keys" / "seller.asc").resolve()),
        reconciliation_json=str(json_path.resolve()),
        reconciliation_csv=str(csv_path.resolve()),
        journal_entries=str(journal_path.resolve()),
    )
    result.figures.update(
        receivables_sold=reconciliation.sold,
        receivables_removed=reconciliation.removed,
        total_face=str(portfolio.total_face.amount),
        total_price=str(portfolio.total_price.amount),
        refunds=str(portfolio.refunds.amount),
        loss_on_sale=str(portfolio.loss_on_sale.amount),
        currency=portfolio.currency,
    )
