"""Rich tables for the status of the store and the broker."""

from __future__ import annotations

from decimal import Decimal

from rich import box
from rich.table import Table

from debtsale.money import Money
from debtsale.reports import ReconciliationReport
from debtsale.valuation import ValuationReport
from forwardflow.status import BrokerStatus, StoreStatus

__all__ = ["broker_table", "reconciliation_table", "store_table", "valuation_table"]


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


def reconciliation_table(report: ReconciliationReport, loss_on_sale: object = None) -> Table:
    table = Table(
        title=f"reconciliation of {report.portfolio_id} "
        f"(cut-off {report.cutoff}, closing {report.closing})",
        show_header=False,
    )
    table.add_column(style="cyan")
    table.add_column(justify="right")
    rows = [
        ("receivables sold / removed", f"{report.sold:,} / {report.removed:,}"),
        ("face at cut-off", f"{report.face_at_cutoff.amount:,}"),
        ("adjustments", f"{report.adjustments.amount:,}"),
        ("final face", f"{report.final_face.amount:,}"),
        ("price", f"{report.price.amount:,}"),
        ("owed to buyer at close", f"{report.owed_to_buyer.amount:,}"),
        *(
            [("loss on sale", f"{Decimal(str(loss_on_sale)):,}")]
            if loss_on_sale is not None
            else []
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
