"""Buyers' put-back request files: parse each line or say exactly which line is wrong.

A request file is CSV with a header naming at least ``portfolio_id``, ``receivable_id``,
``reason``, ``evidence_reference`` and ``request_date`` (ISO dates); ``fact_date`` (without
it the buyer asserts the fact existed when the portfolio was cut), ``buyer_collections``
(what the buyer collected on it itself), ``replacement_id`` (a receivable asked for
instead of a refund) and ``documents`` (file names uploaded to ``documents/`` beside the
request, ``;``-separated) are optional. docs/sale-file.md documents the format with an
example and its Table Schema.
A file with any bad line is rejected whole, so a buyer never has half a file applied.

Everything is bounded: names (letters, digits, ``. _ -``), lines, fields and rows, each
refusal answered with the limit. Result files go back to the buyer's spreadsheet, so a
cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR)
is prefixed with ``'`` (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from debtsale.agreement import PutbackReason
from debtsale.csvsafe import neutralise

__all__ = [
    "MAX_DOCUMENTS",
    "MAX_FIELD_CHARS",
    "MAX_LINE_CHARS",
    "MAX_REQUEST_LINES",
    "OPTIONAL_COLUMNS",
    "REQUEST_SUFFIXES",
    "REQUIRED_COLUMNS",
    "LineProblem",
    "PutbackLine",
    "name_problem",
    "neutralised",
    "parse_request_file",
    "result_csv",
]

REQUIRED_COLUMNS = ("portfolio_id", "receivable_id", "reason", "evidence_reference", "request_date")
REQUEST_SUFFIXES = (".csv", ".csv.pgp", ".csv.gpg")
MAX_REQUEST_LINES = 20_000
MAX_LINE_CHARS = 4_000
MAX_FIELD_CHARS = 1_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,2})?")
MAX_DOCUMENTS = 20
OPTIONAL_COLUMNS = ("fact_date", "buyer_collections", "replacement_id", "documents")


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
    buyer_collections: Decimal | None = None  # what the buyer collected on it itself
    replacement_id: str | None = None  # a receivable asked for instead of a refund
    documents: tuple[str, ...] = ()  # files uploaded to the inbound documents/ folder


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
    collected = (record.get("buyer_collections") or "").strip()
    if collected and not _AMOUNT.fullmatch(collected):
        raise ValueError(
            f"buyer_collections {collected!r} is not an amount (digits, at most 2 decimals)"
        )
    documents = tuple(d.strip() for d in (record.get("documents") or "").split(";") if d.strip())
    bad = [d for d in documents if not _NAME.fullmatch(d) or ".." in d]
    if bad or len(documents) > MAX_DOCUMENTS:
        raise ValueError(
            f"documents must be at most {MAX_DOCUMENTS} file names (letters, digits, '.', "
            f"'_', '-') separated by ';'; refused: {', '.join(bad) or 'too many'}"
        )
    return PutbackLine(
        line=number,
        portfolio_id=record["portfolio_id"].strip(),
        receivable_id=record["receivable_id"].strip(),
        reason=reason,
        evidence_reference=record["evidence_reference"].strip(),
        requested_on=_date(record["request_date"], "request_date"),
        fact_date=_date(fact, "fact_date") if fact else None,
        buyer_collections=Decimal(collected) if collected else None,
        replacement_id=(record.get("replacement_id") or "").strip() or None,
        documents=documents,
    )


def name_problem(name: str) -> str | None:
    """Why a file name in the inbox is not read as a request file (None: it is).

    Letters, digits and ``. _ -`` only, starting with a letter or digit, no ``..``, at
    most 120 characters, ending ``.csv``, ``.csv.pgp`` or ``.csv.gpg`` (any case).
    """
    if not _NAME.fullmatch(name) or ".." in name:
        return (
            "the name must be letters, digits, '.', '_' or '-', start with a letter or "
            "digit, hold no '..' and be at most 120 characters"
        )
    if not name.lower().endswith(REQUEST_SUFFIXES):
        return "only .csv, .csv.pgp and .csv.gpg files are read"
    return None


def _records(text: str) -> csv.DictReader[str]:
    return csv.DictReader(io.StringIO(text, newline=""))


def parse_request_file(data: bytes) -> tuple[list[PutbackLine], list[LineProblem]]:
    """The valid lines and the problems; any problem means the file is rejected."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [], [LineProblem(0, f"the file is not UTF-8: {error}")]
    reader = _records(text)
    try:
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    except csv.Error as error:
        return [], [LineProblem(1, f"the header is not CSV: {error}")]
    if missing:
        return [], [LineProblem(1, f"the header lacks {', '.join(missing)}")]
    lines: list[PutbackLine] = []
    problems: list[LineProblem] = []
    number = 1
    try:
        for record in reader:
            number = reader.line_num
            if len(lines) + len(problems) >= MAX_REQUEST_LINES:
                problems.append(
                    LineProblem(number, f"more than {MAX_REQUEST_LINES:,} request lines")
                )
                break
            values = [v for v in record.values() if isinstance(v, str)]
            if any(len(v) > MAX_FIELD_CHARS for v in values):
                problems.append(LineProblem(number, f"a field over {MAX_FIELD_CHARS} characters"))
            elif sum(len(v) for v in values) > MAX_LINE_CHARS:
                problems.append(LineProblem(number, f"a line over {MAX_LINE_CHARS} characters"))
            else:
                try:
                    lines.append(_line(record, number))
                except ValueError as error:
                    problems.append(LineProblem(number, str(error)))
    except csv.Error as error:  # e.g. a field over the csv module's own limit (128 KiB)
        why = (
            f"a field over {MAX_FIELD_CHARS} characters"
            if "field limit" in str(error)
            else f"not CSV here: {error}"
        )
        problems.append(LineProblem(number + 1, why))
    if not lines and not problems:
        problems.append(LineProblem(0, "the file has no request lines"))
    return lines, problems


def neutralised(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs (``=1+1`` → ``'=1+1``): the rule of
    ``debtsale.csvsafe``, which every buyer file follows."""
    return neutralise(value)


def result_csv(rows: list[dict[str, str]]) -> bytes:
    """The result file a buyer reads: one row per line, accepted/pending/rejected and why."""
    out = io.StringIO()
    columns = ["line", "portfolio_id", "receivable_id", "request_id", "status", "rule", "detail"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: neutralised(str(v)) for k, v in row.items()} for row in rows)
    return out.getvalue().encode("utf-8")
