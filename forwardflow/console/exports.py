"""CSV and XLSX exports of the console's tables: the same rows and totals as the page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook

from debtsale.csvsafe import neutralise
from debtsale.reports import AmountsDueReport, PutbackLedger, ReconciliationReport
from debtsale.valuation import ValuationReport

__all__ = ["putback_rows", "remittance_rows", "table_csv", "table_xlsx", "valuation_rows"]

Rows = list[list[str]]


def valuation_rows(report: ValuationReport) -> Rows:
    """The valuation page's table: a row per cohort, then the totals."""
    rows = [
        [
            "age_bucket",
            "balance_tier",
            "documentation",
            "count",
            "face",
            "offer",
            "offer_rate",
            "internal_recovery",
            "advice",
            "currency",
        ],
    ]
    for c in report.cohorts:
        rows.append(
            [
                c.age_bucket,
                c.balance_tier,
                c.documentation,
                str(c.count),
                str(c.face.amount),
                str(c.offer.amount),
                str(c.offer_rate),
                str(c.internal_recovery.amount),
                c.recommendation.value,
                report.currency,
            ]
        )
    rows.append(
        [
            "TOTAL",
            "",
            "",
            str(report.count),
            str(report.face.amount),
            str(report.offer.amount),
            "",
            str(report.internal_recovery.amount),
            "",
            report.currency,
        ]
    )
    return rows


def reconciliation_rows(report: ReconciliationReport) -> Rows:
    """The reconciliation, exactly as ``forwardflow portfolio reconcile --csv`` writes it."""
    return [list(row) for row in report.csv_rows()]


def putback_rows(ledger: PutbackLedger) -> Rows:
    """The put-backs page's table, then refunds and net proceeds."""
    rows = [
        [
            "request_id",
            "receivable_id",
            "reason",
            "requested_on",
            "status",
            "rule",
            "refund",
            "currency",
        ]
    ]
    for r in ledger.rows:
        rows.append(
            [
                r.request_id,
                r.receivable_id,
                r.reason,
                r.requested_on.isoformat(),
                r.status.value,
                r.rule or "",
                str(r.refund.amount),
                ledger.currency,
            ]
        )
    rows.append(["TOTAL refunds", "", "", "", "", "", str(ledger.refunds.amount), ledger.currency])
    rows.append(
        ["net proceeds", "", "", "", "", "", str(ledger.net_proceeds.amount), ledger.currency]
    )
    return rows


def remittance_rows(report: AmountsDueReport) -> Rows:
    """The remittance page's table, then due, remitted and outstanding."""
    rows = [["receivable_id", "source", "received_on", "due_on", "amount", "overdue", "currency"]]
    for i in report.items:
        rows.append(
            [
                i.receivable_id,
                i.source,
                i.received_on.isoformat(),
                i.due_on.isoformat(),
                str(i.amount.amount),
                "yes" if i.due_on <= report.as_of else "",
                report.currency,
            ]
        )
    for name, money in (
        ("TOTAL due", report.due),
        ("remitted", report.remitted),
        ("outstanding", report.outstanding),
        ("due now", report.due_now),
    ):
        rows.append([name, "", "", "", str(money.amount), "", report.currency])
    return rows


def _number(cell: str) -> Decimal | None:
    try:
        return Decimal(cell) if cell and cell[0] in "-0123456789" else None
    except InvalidOperation:
        return None


def _text(cell: str) -> str:
    """Amounts stay as written (``-12.50``); any other text is made inert (debtsale.csvsafe)."""
    return cell if _number(cell) is not None else neutralise(cell)


def table_csv(rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 CSV; a cell a spreadsheet would run as a formula is made inert."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_text(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")


def _cell(cell: str) -> Decimal | str:
    number = _number(cell)
    return number if number is not None else neutralise(cell)


def table_xlsx(title: str, rows: Iterable[Sequence[str]]) -> bytes:
    """One worksheet; amounts are numbers (written from Decimal), text made inert."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    for row in rows:
        sheet.append([_cell(cell) for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
