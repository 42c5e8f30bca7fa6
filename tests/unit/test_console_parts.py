"""The console's small parts: sign-in throttling, form command ids, exports, charts."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from starlette.datastructures import FormData

from forwardflow.console.app import form_command_id, new_command_id
from forwardflow.console.auth import Throttle
from forwardflow.console.charts import waterfall
from forwardflow.console.csrf import token_matches
from forwardflow.console.exports import table_csv


def test_sign_in_is_throttled_per_email_and_more_loosely_per_address() -> None:
    throttle = Throttle(limit=2, address_limit=3)
    throttle.failed("email:a", "addr:1")
    assert not throttle.blocked("email:a", "addr:1")
    throttle.failed("email:a", "addr:1")
    assert throttle.blocked("email:a", "addr:1")
    assert not throttle.blocked("email:b", "addr:1")  # another email from the same office
    throttle.failed("email:b", "addr:1")
    assert throttle.blocked("email:c", "addr:1")  # the address used up its attempts
    throttle.succeeded("email:a", "addr:1")
    assert not throttle.blocked("email:a", "addr:1")


def test_a_form_command_id_must_be_one_the_console_made_for_that_action() -> None:
    made = new_command_id("cut")
    assert form_command_id(FormData({"command_id": made}), "cut") == made
    assert form_command_id(FormData({"command_id": made}), "close") is None
    assert form_command_id(FormData({"command_id": "cli:cut:P1"}), "cut") is None
    assert form_command_id(FormData({}), "cut") is None


def test_a_csrf_token_must_match() -> None:
    assert token_matches(FormData({"csrf_token": "abc"}), "abc")
    assert not token_matches(FormData({"csrf_token": "abd"}), "abc")
    assert not token_matches(FormData({}), "abc")
    assert not token_matches(FormData({"csrf_token": ""}), "")


def test_csv_exports_keep_amounts_and_make_formulas_inert() -> None:
    body = table_csv([["name", "amount"], ["=HYPERLINK(1)", "-12.50"]])
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[1] == ["'=HYPERLINK(1)", "-12.50"]


def test_the_waterfall_escapes_its_labels() -> None:
    svg = str(waterfall("a <b>", [("<x>", Decimal(10), True), ("y", Decimal(-3), False)]))
    assert "<x>" not in svg
    assert "&lt;x&gt;" in svg
    assert svg.startswith("<svg")
