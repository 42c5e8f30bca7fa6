"""Rich tables for the status of the store and the broker."""

from __future__ import annotations

from rich.table import Table

from forwardflow.status import BrokerStatus, StoreStatus

__all__ = ["broker_table", "store_table"]


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
