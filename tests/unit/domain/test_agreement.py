"""Agreements from TOML: exact decimals, validated terms, errors that name the field."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from debtsale.agreement import Agreement, AgreementKind, CutoffPolicy, PutbackReason
from debtsale.errors import DomainError
from testkit.builders import SAMPLE_AGREEMENT_TOML, sample_agreement, usd

FORWARD = """
id = "acme-flow"
buyer = "Acme"
seller = { name = "Firm" }
kind = "forward_flow"
period = "monthly"
starts_on = 2025-01-01
tenant = "realm-1"
[trigger]
min_days_past_due = 120
max_balance = "1500.00"
exclude_customers = ["C-vip"]
[[rate_card]]
balance_tier = "<500"
rate = "0.08"
[[rate_card]]
rate = 0.06
"""


def test_the_sample_agreement_loads_with_exact_rates() -> None:
    agreement = sample_agreement()
    assert agreement.rate_card[0].rate == Decimal("0.15")
    assert agreement.default_rate == Decimal("0.04")
    assert agreement.cutoff_policy is CutoffPolicy.REDUCE_FACE
    assert agreement.putback.cap_percent == Decimal(10)
    assert agreement.putback.evidence[PutbackReason.BANKRUPTCY] == ("case_number",)


def test_a_forward_flow_agreement_with_trigger_and_rate_card() -> None:
    agreement = Agreement.from_toml(FORWARD)
    assert agreement.kind is AgreementKind.FORWARD_FLOW
    assert agreement.trigger.min_days_past_due == 120
    assert agreement.rate_for("181-365", "<500", "invoice_only") == Decimal("0.08")
    assert agreement.rate_for("181-365", "500-2000", "invoice_only") == Decimal("0.06")
    assert agreement.in_balance_range(usd("1500.00"))
    assert not agreement.in_balance_range(usd("1500.01"))
    assert "C-vip" in agreement.trigger.exclude_customers


def _sample_data() -> dict[str, Any]:
    return tomllib.loads(SAMPLE_AGREEMENT_TOML, parse_float=Decimal)


@pytest.mark.parametrize(
    ("section", "key", "value", "named"),
    [
        (None, "kind", "forward_flow", "forward_flow agreement needs a period"),
        (None, "cutoff_policy", "keep_it", "cutoff_policy"),
        ("putback", "window_days", 0, "putback.window_days"),
        ("file", "columns", ["tax_id"], "tax_id is sent only where the agreement requires it"),
        ("file", "columns", ["shoe_size"], "unknown sale-file columns"),
        (None, "currency", "XXX", "unknown currency"),
        (None, "surprise", 1, "surprise"),
        ("trigger", "max_balance", Decimal(1), "max_balance is below min_balance"),
    ],
)
def test_invalid_agreements_name_what_is_wrong(
    section: str | None, key: str, value: object, named: str
) -> None:
    data = _sample_data()
    (data.setdefault(section, {}) if section else data)[key] = value
    with pytest.raises(DomainError, match=r"agreement\.invalid") as error:
        Agreement.from_data(data)
    assert named in str(error.value)


def test_a_forward_flow_names_its_company_and_first_period() -> None:
    data = tomllib.loads(FORWARD, parse_float=Decimal)
    del data["tenant"]
    with pytest.raises(DomainError, match="needs starts_on and tenant"):
        Agreement.from_data(data)


def test_a_rate_above_one_is_refused() -> None:
    with pytest.raises(DomainError, match="rate"):
        Agreement.from_toml(SAMPLE_AGREEMENT_TOML.replace("rate = 0.15", "rate = 15"))


def test_malformed_toml_is_a_clear_error() -> None:
    with pytest.raises(DomainError, match=r"agreement\.toml"):
        Agreement.from_toml("id = ")


def test_python_floats_are_refused_even_outside_toml() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="is a float"):
        Agreement.model_validate(
            {"id": "a", "buyer": "b", "seller": {"name": "s"}, "rate_card": [{"rate": 0.1}]}
        )


@pytest.mark.parametrize(
    ("period", "ends_on", "expected"),
    [
        (
            "monthly",
            None,
            [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)],
        ),
        ("monthly", date(2025, 3, 15), [date(2025, 1, 31), date(2025, 2, 28)]),
        ("quarterly", None, [date(2025, 3, 31)]),
    ],
)
def test_forward_flow_tranches_end_each_period(
    period: str, ends_on: date | None, expected: list[date]
) -> None:
    data = tomllib.loads(FORWARD, parse_float=Decimal)
    data.update(period=period, starts_on=date(2025, 1, 15), ends_on=ends_on)
    agreement = Agreement.from_data(data)
    assert agreement.tranche_cutoffs(until=date(2025, 5, 20)) == expected


def test_a_spot_sale_has_no_tranches() -> None:
    assert sample_agreement().tranche_cutoffs(until=date(2030, 1, 1)) == []
