"""Buyers' request files: every limit answered by line, every answer safe in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest

from sftp.putback_files import (
    MAX_FIELD_CHARS,
    MAX_REQUEST_LINES,
    name_problem,
    neutralised,
    parse_request_file,
    result_csv,
)

HEADER = b"portfolio_id,receivable_id,reason,evidence_reference,request_date\r\n"


def test_a_field_over_the_csv_modules_own_limit_is_a_line_problem_not_a_crash() -> None:
    lines, problems = parse_request_file(
        HEADER + b"P1,I1,fraud," + b"x" * 140_000 + b",2025-08-01\r\n"
    )
    assert lines == []
    assert problems[0].line == 2
    assert f"over {MAX_FIELD_CHARS} characters" in problems[0].problem


def test_too_many_lines_are_refused_with_the_limit() -> None:
    body = HEADER + b"P1,I1,fraud,,2025-08-01\r\n" * (MAX_REQUEST_LINES + 5)
    _, problems = parse_request_file(body)
    assert f"more than {MAX_REQUEST_LINES:,} request lines" in problems[-1].problem


def test_a_long_line_is_refused() -> None:
    field = b"y" * 900
    _, problems = parse_request_file(
        HEADER + b"P1,I1,fraud," + b",".join([field] * 5) + b",2025-08-01\r\n"
    )
    assert problems


@pytest.mark.parametrize(
    "name",
    [" x.csv", "a b.csv", "é.csv", "-x.csv", "a..b.csv", "x" * 121 + ".csv", "x.txt", ".x.csv"],
)
def test_names_outside_the_plain_form_are_refused_with_a_reason(name: str) -> None:
    assert name_problem(name)


@pytest.mark.parametrize("name", ["req-1.csv", "REQ_2.CSV", "a.csv.pgp", "b.CSV.GPG"])
def test_plain_names_are_read(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert neutralised(cell) == "'" + cell
    written = list(csv.reader(io.StringIO(result_csv([{"detail": cell}]).decode())))[1]
    assert written[-1].startswith("'")


def test_plain_cells_are_left_alone() -> None:
    assert neutralised("I-1") == "I-1"
