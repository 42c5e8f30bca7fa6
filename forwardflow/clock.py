"""Today's date for business rules: the machine's local calendar day (the firm's books)."""

from __future__ import annotations

from datetime import date, datetime

__all__ = ["today"]


def today() -> date:
    """The local calendar date; set TZ to the firm's zone when the host runs on UTC."""
    return datetime.now().astimezone().date()
