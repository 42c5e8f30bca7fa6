"""Business days and periods for due dates and forward-flow tranches."""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Collection
from datetime import date, timedelta

__all__ = ["add_business_days", "add_months", "add_years", "is_business_day"]

_SATURDAY = 5


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    """Monday to Friday and not a listed holiday."""
    return day.weekday() < _SATURDAY and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date ``days`` business days after ``start`` (``start`` itself never counts)."""
    if days < 0:
        raise ValueError("business days to add must be ≥ 0")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_business_day(current, holidays):
            remaining -= 1
    return current


def add_months(start: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def add_years(start: date, years: int) -> date:
    """Same day ``years`` later; Feb 29 becomes Feb 28 in a common year."""
    return add_months(start, 12 * years)
