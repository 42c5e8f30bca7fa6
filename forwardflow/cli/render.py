"""Rich tables for the status of the store and the broker."""

from __future__ import annotations

from rich import box
from rich.table import Table

from debtsale.completeness import COMPLETENESS_FIELDS
from debtsale.money import Money
from debtsale.reports import ReconciliationReport
from debtsale.settlement import PutbackCandidate
from debtsale.valuation import ValuationReport
from forwardflow.status import BrokerStatus, StoreStatus

__all__ = [
    "broker_table",
    "candidates_table",
    "completeness_table",
    "reconciliation_lines_table",
    "reconciliation_table",
    "store_table",
    "valuation_table",
]


def store_table(status: StoreStatus) -> Table:
    """The store as a two-column table."""
    table = Table(title="state store", show_header=False)
    table.add_column(style="cyan")
    table.add_column()
    table.add_row("backend", status.backend)
    table.add_row("url", status.url)
    if status.journal_mode:
        table.add_row("journal mode", status.journal_mode)
    mark = "[green]up to date[/]" if status.up_to_date else "[yellow]needs db upgrade[/]"
    table.add_row("schema", f"{status.revision or '(empty)'} (newest {status.head}) {mark}")
    return table


def broker_table(status: BrokerStatus) -> Table:
    """The broker and its streams."""
    kind = f"embedded nats-server (pid {status.pid})" if status.embedded else "external"
    table = Table(title=f"broker: {kind}, NATS {status.server_version} at {status.url}")
    table.add_column("JetStream stream", style="cyan")
    table.add_column("messages", justify="right")
    table.add_column("bytes", justify="right")
    for stream in status.streams:
        table.add_row(stream.name, f"{stream.messages:,}", f"{stream.bytes:,}")
    return table


_DOCUMENTATION = {
    "signed_contract": "contract",
    "communication_trail": "trail",
    "invoice_only": "invoice",
}


_MIN_WIDTH = {
    "age": 7,
    "balance": 10,
    "docs": 8,
    "count": 5,
    "face": 9,
    "offer": 7,
    "¢/$": 4,
    "internal": 8,
    "advice": 6,
}


def _dollars(amount: Money) -> str:
    return f"{amount.amount:,.0f}"


def valuation_table(report: ValuationReport) -> Table:
    table = Table(
        title=f"valuation as of {report.as_of} under {report.agreement_id} "
        f"({report.currency}, whole units)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("age", "balance", "docs", "count", "face", "offer", "¢/$", "internal", "advice"):
        text = column in ("age", "balance", "docs", "advice")
        table.add_column(
            column,
            justify="left" if text else "right",
            no_wrap=True,
            min_width=_MIN_WIDTH.get(column, 0),
        )
    for row in report.cohorts:
        table.add_row(
            row.age_bucket,
            row.balance_tier,
            _DOCUMENTATION.get(row.documentation, row.documentation),
            f"{row.count:,}",
            _dollars(row.face),
            _dollars(row.offer),
            f"{row.offer_rate * 100:.1f}",
            _dollars(row.internal_recovery),
            row.recommendation.value,
        )
    table.add_row(
        "[bold]total",
        "",
        "",
        f"[bold]{report.count:,}",
        f"[bold]{_dollars(report.face)}",
        f"[bold]{_dollars(report.offer)}",
        "",
        _dollars(report.internal_recovery),
        "",
    )
    return table


def completeness_table(report: ValuationReport) -> Table:
    """Per cohort, the share of receivables with each field buyers price (before a cut)."""
    table = Table(
        title="field completeness per cohort (% of receivables; docs/sale-file.md)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("age", "balance", "docs", "count"):
        table.add_column(column, justify="right" if column == "count" else "left", no_wrap=True)
    for name in COMPLETENESS_FIELDS:
        table.add_column(name.replace("_", " "), justify="right", no_wrap=True)
    for row in report.cohorts:
        table.add_row(
            row.age_bucket,
            row.balance_tier,
            _DOCUMENTATION.get(row.documentation, row.documentation),
            f"{row.count:,}",
            *(f"{row.completeness.get(name, 0) * 100:.0f}" for name in COMPLETENESS_FIELDS),
        )
    return table


def _amount(money: Money | None) -> str:
    return "" if money is None else f"{money.amount:,}"


def reconciliation_table(report: ReconciliationReport) -> Table:
    """The reconciliation's totals; a portfolio not closed yet is never called sold."""
    closed = report.closing is not None
    table = Table(
        title=f"reconciliation of {report.portfolio_id} "
        f"(cut-off {report.cutoff}, closing {report.closing or 'not closed yet'})",
        show_header=False,
    )
    table.add_column(style="cyan")
    table.add_column(justify="right")
    counted = (
        ("receivables sold / removed", f"{report.sold:,} / {report.removed:,}")
        if closed
        else ("receivables in portfolio / removed", f"{report.in_portfolio:,} / {report.removed:,}")
    )
    rows = [
        counted,
        ("face at cut-off", _amount(report.face_at_cutoff)),
        ("adjustments", _amount(report.adjustments)),
        ("final face" if closed else "face so far", _amount(report.final_face)),
        ("price" if closed else "price so far", _amount(report.price)),
        ("owed to buyer at close", _amount(report.owed_to_buyer)),
    ]
    if closed:
        rows += [
            ("loss on sale (at close)", _amount(report.loss_on_sale)),
            ("refunds", _amount(report.refunds)),
            ("net proceeds", _amount(report.net_proceeds)),
        ]
        if report.paid_before_sale is not None and not report.paid_before_sale.is_zero:
            rows.append(("paid before sale, recorded after", _amount(report.paid_before_sale)))
        rows.append(("loss on sale to date", _amount(report.loss_on_sale_to_date)))
    for name, value in rows:
        table.add_row(name, value)
    return table


def reconciliation_lines_table(report: ReconciliationReport) -> Table:
    """One row per receivable: face, adjustments, price, days past due, age bucket, rate."""
    table = Table(title=f"receivables of {report.portfolio_id} ({report.currency})")
    columns = (
        "receivable",
        "invoice",
        "state",
        "DPD",
        "bucket",
        "rate",
        "face at cut-off",
        "adjustments",
        "final face",
        "price",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in (*columns[:3], "bucket") else "right")
    for line in report.lines:
        table.add_row(
            line.receivable_id,
            line.invoice_number,
            line.state,
            "" if line.days_past_due is None else str(line.days_past_due),
            line.age_bucket,
            f"{line.rate * 100:.1f} %",
            _amount(line.face_at_cutoff),
            _amount(line.adjustments),
            _amount(line.final_face),
            _amount(line.price),
        )
    return table


def candidates_table(portfolio_id: str, candidates: list[PutbackCandidate]) -> Table:
    """Receivables the buyer may put back, with the fact and its date."""
    table = Table(title=f"put-back candidates of {portfolio_id}: {len(candidates)}")
    for column in ("receivable", "invoice", "reason", "fact date", "found", "amount", "source"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for item in candidates:
        table.add_row(
            item.receivable_id,
            item.invoice_number,
            item.reason,
            item.fact_date.isoformat(),
            item.found_on.isoformat() if item.found_on else "",
            _amount(item.amount),
            item.source,
        )
    return table
