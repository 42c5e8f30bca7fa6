"""The part of QuickBooks' query language the connector speaks: ``WHERE`` clauses."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["matches", "where"]

Row = dict[str, Any]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def matches(row: Row, clause: str | None) -> bool:
    """The few WHERE forms the connector uses: ``Field op 'value'`` joined by AND."""
    return where(clause)(row)


@functools.lru_cache(maxsize=256)
def where(clause: str | None) -> Callable[[Row], bool]:
    """``clause`` parsed once into a test of a row (a query tests every row of a book)."""
    if not clause:
        return lambda _row: True
    tests = []
    for condition in re.split(r"\s+and\s+", clause.strip(), flags=re.IGNORECASE):
        match = re.fullmatch(
            r"([\w.]+)\s*(>=|<=|=|>|<|in)\s*(.+)", condition.strip(), re.IGNORECASE
        )
        if not match:
            return lambda _row: False
        tests.append(_condition(match[1], match[2].lower(), match[3].strip()))
    return lambda row: all(test(row) for test in tests)


def _field(row: Row, name: str) -> Any:
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value.get("value") if isinstance(value, dict) else value


def _condition(name: str, op: str, raw: str) -> Callable[[Row], bool]:
    if op == "in":
        wanted = frozenset(v.strip().strip("'") for v in raw.strip("()").split(","))
        return lambda row: str(_field(row, name)) in wanted
    text = raw.strip("'")
    compare = _COMPARE[op]

    def test(row: Row) -> bool:
        value = _field(row, name)
        left: Any
        right: Any
        if name.endswith("Time"):  # QuickBooks compares instants, whatever the offsets
            left = datetime.fromisoformat(str(value))
            right = datetime.fromisoformat(text.replace("Z", "+00:00"))
        elif isinstance(value, Decimal | int | float):
            left, right = Decimal(str(value)), Decimal(text)
        else:
            left, right = str(value), text
        return compare(left, right)

    return test
