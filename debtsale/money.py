"""Money: a Decimal amount in an ISO currency, rounded half-even to its minor unit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Self

from debtsale.errors import CurrencyMismatchError, DomainError

__all__ = ["MINOR_UNITS", "Money", "Rate", "parse_rate", "total"]

# ISO 4217 minor units of the currencies forwardflow's platforms use; others are refused.
MINOR_UNITS: dict[str, int] = {
    "AED": 2,
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "MYR": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PHP": 2,
    "PLN": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TND": 3,
    "TRY": 2,
    "TWD": 2,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}

Rate = Decimal
"""A rate (offer rate, recovery rate, cap %) as a Decimal fraction: 0.15 is 15 %."""

_Amount = Decimal | int | str


def _to_decimal(value: object, what: str) -> Decimal:
    if isinstance(value, float):
        raise DomainError(
            "money.no_floats",
            f"{what} {value!r} is a float; pass a str or Decimal so no cent is lost",
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise DomainError(
            "money.decimal", f"{what} must be a Decimal, int or str, not {type(value).__name__}"
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise DomainError("money.decimal", f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise DomainError("money.decimal", f"{what} {value!r} is not finite")
    return number


def parse_rate(value: object) -> Rate:
    """A rate from a str/Decimal/int; floats are refused like everywhere else."""
    return _to_decimal(value, "rate")


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount of one currency, always exact to that currency's minor unit."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise DomainError("money.currency", f"unknown ISO currency {self.currency!r}")
        exact = _round(_to_decimal(self.amount, "amount"), self.currency)
        object.__setattr__(self, "amount", exact)

    @classmethod
    def of(cls, amount: _Amount, currency: str) -> Self:
        """Money from a str, Decimal or int, rounded half-even to the minor unit."""
        return cls(_to_decimal(amount, "amount"), currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Nothing, in ``currency``."""
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def times(self, rate: Rate) -> Money:
        """``round_half_even(rate × amount)`` to the minor unit; ``rate`` must be a Decimal."""
        return Money(self.amount * parse_rate(rate), self.currency)

    def min(self, other: Money) -> Money:
        """The smaller of two amounts of one currency."""
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        """The larger of two amounts of one currency."""
        return self if self >= other else other

    @property
    def is_zero(self) -> bool:
        """True for nothing."""
        return self.amount == 0

    @property
    def is_negative(self) -> bool:
        """True below zero."""
        return self.amount < 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def as_dict(self) -> dict[str, str]:
        """``{"amount": "1234.50", "currency": "USD"}``: decimal strings, never floats."""
        return {"amount": str(self.amount), "currency": self.currency}


def _round(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-MINOR_UNITS[currency])
    return amount.quantize(exponent, rounding=ROUND_HALF_EVEN)


def total(amounts: Iterable[Money], currency: str) -> Money:
    """The sum of ``amounts`` (zero when empty); every item must be in ``currency``."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
