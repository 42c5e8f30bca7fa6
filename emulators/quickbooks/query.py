"""The part of QuickBooks' query language the connector speaks: ``WHERE`` clauses."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["matches"]


def matches(row: dict[str, Any], clause: str | None) -> bool:
    """The few WHERE forms the connector uses: ``Field op 'value'`` joined by AND."""
    if not clause:
        return True
    for condition in re.split(r"\s+and\s+", clause.strip(), flags=re.IGNORECASE):
        match = re.fullmatch(
            r"([\w.]+)\s*(>=|<=|=|>|<|in)\s*(.+)", condition.strip(), re.IGNORECASE
        )
        if not match:
            return False
        name, op, raw = match[1], match[2].lower(), match[3].strip()
        value: Any = row
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, dict):
            value = value.get("value")
        if op == "in":
            wanted = {v.strip().strip("'") for v in raw.strip("()").split(",")}
            if str(value) not in wanted:
                return False
            continue
        text = raw.strip("'")
        left: Any
        right: Any
        if name.endswith("Time"):  # QuickBooks compares instants, whatever the offsets
            left = datetime.fromisoformat(str(value))
            right = datetime.fromisoformat(text.replace("Z", "+00:00"))
        elif isinstance(value, Decimal | int | float):
            left, right = Decimal(str(value)), Decimal(text)
        else:
            left, right = str(value), text
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b,
            ">": lambda a, b: a > b,
            "<": lambda a, b: a < b,
            ">=": lambda a, b: a >= b,
            "<=": lambda a, b: a <= b,
        }
        if not compare[op](left, right):
            return False
    return True
