"""CSV cells a spreadsheet shows as text: the one neutralisation rule every buyer file uses.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some read a
leading tab or carriage return the same way) as a formula: a debtor named
``=HYPERLINK("http://x","y")`` would become a live link on the buyer's screen. Such a
text cell is prefixed with one apostrophe (OWASP's advice), which every spreadsheet
shows as text. The rule is exactly reversible, so a loader recovers the value:

- ``neutralise``: a value that starts with zero or more ``'`` followed by one of the
  trigger characters gets one more ``'`` in front; any other value is unchanged;
- ``restore``: a value that starts with ``'`` and then, after any further ``'``, a
  trigger character loses its first ``'``; any other value is unchanged.

Amounts, dates and flags are written by forwardflow itself and are never neutralised:
a negative amount stays ``-12.50`` (a number to a spreadsheet, not a formula).
"""

from __future__ import annotations

__all__ = ["FORMULA_TRIGGERS", "neutralise", "restore"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _guarded(value: str) -> bool:
    return value.lstrip("'").startswith(FORMULA_TRIGGERS)


def neutralise(value: str) -> str:
    """The cell as written: ``=1+1`` → ``'=1+1``; ``'=x`` → ``''=x``; ``Acme`` unchanged."""
    return f"'{value}" if _guarded(value) else value


def restore(cell: str) -> str:
    """The value a neutralised cell stands for (the inverse of ``neutralise``)."""
    return cell[1:] if cell.startswith("'") and _guarded(cell) else cell
