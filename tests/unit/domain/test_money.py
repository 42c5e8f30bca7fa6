"""Money: Decimal with a currency, half-even to the minor unit, no floats, no mixing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from debtsale.errors import CurrencyMismatchError, DomainError
from debtsale.money import Money, parse_rate, total


@pytest.mark.parametrize(
    ("raw", "currency", "exact"),
    [
        ("10.005", "USD", "10.00"),  # half-even: to the even cent
        ("10.015", "USD", "10.02"),
        ("-10.005", "USD", "-10.00"),
        ("1234.5", "JPY", "1234"),  # JPY has no minor unit; half-even → 1234
        ("1235.5", "JPY", "1236"),
        ("1.0005", "KWD", "1.000"),  # three decimals
        (7, "EUR", "7.00"),
        (Decimal("0.1"), "GBP", "0.10"),
    ],
)
def test_amounts_are_rounded_half_even_to_the_currency_minor_unit(
    raw: str | int | Decimal, currency: str, exact: str
) -> None:
    assert str(Money.of(raw, currency).amount) == exact


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(DomainError, match=r"money\.no_floats"):
        Money.of(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(DomainError, match=r"money\.no_floats"):
        Money.of("1.00", "USD").times(0.15)  # type: ignore[arg-type]
    with pytest.raises(DomainError, match=r"money\.no_floats"):
        parse_rate(0.15)


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", ""])
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(DomainError, match=r"money\.decimal"):
        Money.of(bad, "USD")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(DomainError, match=r"money\.currency"):
        Money.of("1", "XXX")


def test_arithmetic_across_currencies_is_an_error() -> None:
    with pytest.raises(CurrencyMismatchError, match=r"money\.same_currency"):
        Money.of("1", "USD") + Money.of("1", "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = Money.of("1", "USD") < Money.of("1", "CAD")
    with pytest.raises(CurrencyMismatchError):
        total([Money.of("1", "EUR")], "USD")


def test_times_rounds_the_product_half_even() -> None:
    assert Money.of("100.10", "USD").times(Decimal("0.15")) == Money.of("15.02", "USD")
    assert Money.of("100.30", "USD").times(Decimal("0.15")) == Money.of("15.04", "USD")


def test_serialises_as_decimal_strings() -> None:
    assert Money.of("1234.5", "USD").as_dict() == {"amount": "1234.50", "currency": "USD"}
    assert str(Money.of("-3", "USD")) == "-3.00 USD"


def test_total_of_nothing_is_zero_in_the_currency() -> None:
    assert total([], "USD") == Money.zero("USD")
    assert total([Money.of("0.10", "USD")] * 10, "USD") == Money.of("1.00", "USD")
