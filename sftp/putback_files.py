"""Buyers' put-back request files: parse each line or say exactly which line is wrong.

A request file is CSV with a header naming at least ``portfolio_id``, ``receivable_id``,
``reason``, ``evidence_reference`` and ``request_date`` (ISO dates); ``fact_date`` is
optional — without it the buyer asserts the fact existed when the portfolio was cut.
A file with any bad line is rejected whole, so a buyer never has half a file applied.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from debtsale.agreement import PutbackReason

__all__ = ["REQUIRED_COLUMNS", "LineProblem", "PutbackLine", "parse_request_file", "result_csv"]

REQUIRED_COLUMNS = ("portfolio_id", "receivable_id", "reason", "evidence_reference", "request_date")
_MAX_LINES = 100_000


@dataclass(frozen=True, slots=True)
class PutbackLine:
    """One valid request line."""

    line: int
    portfolio_id: str
    receivable_id: str
    reason: PutbackReason
    evidence_reference: str
    requested_on: date
    fact_date: date | None


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why a line (0 for the file as a whole) cannot be read."""

    line: int
    problem: str


def _date(text: str, column: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None


def _line(record: dict[str, str], number: int) -> PutbackLine:
    if None in record or any(record.get(c) is None for c in REQUIRED_COLUMNS):
        raise ValueError("the line has a different number of fields than the header")
    empty = [c for c in ("portfolio_id", "receivable_id", "reason") if not record[c].strip()]
    if empty:
        raise ValueError(f"{', '.join(empty)} is empty")
    try:
        reason = PutbackReason(record["reason"].strip())
    except ValueError:
        known = ", ".join(r.value for r in PutbackReason)
        raise ValueError(f"reason {record['reason']!r} is not one of {known}") from None
    fact = (record.get("fact_date") or "").strip()
    return PutbackLine(
        line=number,
        portfolio_id=record["portfolio_id"].strip(),
        receivable_id=record["receivable_id"].strip(),
        reason=reason,
        evidence_reference=record["evidence_reference"].strip(),
        requested_on=_date(record["request_date"], "request_date"),
        fact_date=_date(fact, "fact_date") if fact else None,
    )


def parse_request_file(data: bytes) -> tuple[list[PutbackLine], list[LineProblem]]:
    """The valid lines and the problems; any problem means the file is rejected."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [], [LineProblem(0, f"the file is not UTF-8: {error}")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [LineProblem(1, f"the header lacks {', '.join(missing)}")]
    lines: list[PutbackLine] = []
    problems: list[LineProblem] = []
    for record in reader:
        number = reader.line_num
        if number > _MAX_LINES:
            problems.append(LineProblem(number, f"more than {_MAX_LINES} lines"))
            break
        try:
            lines.append(_line(record, number))
        except ValueError as error:
            problems.append(LineProblem(number, str(error)))
    if not lines and not problems:
        problems.append(LineProblem(0, "the file has no request lines"))
    return lines, problems


def result_csv(rows: list[dict[str, str]]) -> bytes:
    """The result file a buyer reads: one row per line, accepted/pending/rejected and why."""
    out = io.StringIO()
    columns = ["line", "portfolio_id", "receivable_id", "request_id", "status", "rule", "detail"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
