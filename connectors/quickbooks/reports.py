"""QuickBooks reports read as data: the trial balance by account, the aging by open item.

Reports nest sections (``Rows.Row`` with ``Header``/``Rows``/``Summary``) and give values
as strings in ``ColData`` ordered by ``Columns.Column``; these readers walk that shape
(tolerating sections and summaries anywhere) so a caller gets plain rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

__all__ = ["aging_detail_rows", "aging_summary_rows", "trial_balance_rows"]


def _data_rows(rows: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    for row in (rows or {}).get("Row", []):
        if "ColData" in row and row.get("type", "Data") == "Data":
            yield row
        yield from _data_rows(row.get("Rows"))


def _keys(report: Mapping[str, Any]) -> list[str]:
    keys = []
    for column in report.get("Columns", {}).get("Column", []):
        meta = {m.get("Name"): m.get("Value") for m in column.get("MetaData", [])}
        keys.append(str(meta.get("ColKey") or column.get("ColType") or column.get("ColTitle")))
    return keys


def _amount(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def trial_balance_rows(report: Mapping[str, Any]) -> dict[str, tuple[str, Decimal]]:
    """``reports/TrialBalance`` as {account id: (name, balance)}, debits positive."""
    found = {}
    for row in _data_rows(report.get("Rows")):
        account, debit, credit = (row["ColData"] + [{}, {}, {}])[:3]
        key = str(account.get("id") or account.get("value"))
        found[key] = (
            str(account.get("value", "")),
            _amount(debit.get("value")) - _amount(credit.get("value")),
        )
    return found


def aging_detail_rows(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """``reports/AgedReceivableDetail`` rows as {column key: value}; ``<key>_id`` for ids."""
    keys = _keys(report)
    found = []
    for row in _data_rows(report.get("Rows")):
        item: dict[str, str] = {}
        for key, cell in zip(keys, row["ColData"], strict=False):
            item[key] = str(cell.get("value", ""))
            if "id" in cell:
                item[f"{key}_id"] = str(cell["id"])
        found.append(item)
    return found


def aging_summary_rows(report: Mapping[str, Any]) -> dict[str, Decimal]:
    """``reports/AgedReceivables`` as {customer id: total open}."""
    found = {}
    for row in _data_rows(report.get("Rows")):
        cells = row["ColData"]
        if cells and "id" in cells[0]:
            found[str(cells[0]["id"])] = _amount(cells[-1].get("value"))
    return found
