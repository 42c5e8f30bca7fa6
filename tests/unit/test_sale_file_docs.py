"""The buyer-facing documents stay true: the shipped schema, the request format and its
example, and the neutralisation rule they describe."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from debtsale.csvsafe import FORMULA_TRIGGERS, neutralise, restore
from debtsale.salefields import DEFAULT_COLUMNS, FIELDS, table_schema
from debtsale.salefile import schema_bytes
from sftp.putback_files import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, parse_request_file
from testkit.buyer import frictionless_problems

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_documented_schema_is_the_default_layout_v2s() -> None:
    shipped = (DOCS / "sale-file.schema.json").read_bytes()
    assert shipped == schema_bytes(table_schema("2", DEFAULT_COLUMNS["2"]))


def test_every_field_is_documented_in_sale_file_md() -> None:
    text = (DOCS / "sale-file.md").read_text()
    missing = [name for name in FIELDS if f"`{name}`" not in text]
    assert missing == []


def test_the_request_example_parses_and_its_schema_names_every_column(tmp_path: Path) -> None:
    example = (DOCS / "examples" / "putback-request.csv").read_bytes()
    lines, problems = parse_request_file(example)
    assert problems == []
    assert lines[0].documents == ("bk-notice-10006.pdf",)
    assert lines[2].replacement_id == "10077"
    schema = json.loads((DOCS / "putback-request.schema.json").read_text())
    assert [f["name"] for f in schema["fields"]] == [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
    (tmp_path / "putback-request.csv").write_bytes(example)
    dialect = {"delimiter": ",", "lineTerminator": "\r\n", "header": True}
    found = frictionless_problems(
        tmp_path / "putback-request.csv", DOCS / "putback-request.schema.json", dialect
    )
    assert found == ""


def test_a_bad_amount_or_document_name_rejects_the_line() -> None:
    header = "portfolio_id,receivable_id,reason,evidence_reference,request_date,"
    header += "buyer_collections,documents\r\n"
    _, problems = parse_request_file(
        (
            header + "P1,I1,fraud,,2025-08-01,-5,\r\nP1,I2,fraud,,2025-08-01,,../etc/passwd\r\n"
        ).encode()
    )
    assert [p.line for p in problems] == [2, 3]
    assert "buyer_collections" in problems[0].problem
    assert "documents" in problems[1].problem


@given(st.text(max_size=30))
def test_neutralising_is_reversible_and_leaves_no_formula(value: str) -> None:
    cell = neutralise(value)
    assert restore(cell) == value
    assert not cell.startswith(FORMULA_TRIGGERS)


def test_neutralising_leaves_plain_text_alone() -> None:
    assert neutralise("Acme LLC") == "Acme LLC"
    assert neutralise('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert neutralise("'=x") == "''=x"
    assert neutralise("'Twas Ltd") == "'Twas Ltd"
