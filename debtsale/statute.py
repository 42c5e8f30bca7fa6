"""Statute of limitations: when a debt becomes time-barred, from a versioned state table."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources

from debtsale.calendar import add_months, add_years
from debtsale.changes import Documentation
from debtsale.errors import DomainError

__all__ = ["ClaimType", "Limitation", "StatuteTable", "claim_type_for"]


class ClaimType(StrEnum):
    """The kind of claim, which sets the limitation period."""

    WRITTEN_CONTRACT = "written_contract"
    OPEN_ACCOUNT = "open_account"


def claim_type_for(documentation: Documentation) -> ClaimType:
    """A signed contract is a written-contract claim; anything less is an open account."""
    if documentation is Documentation.SIGNED_CONTRACT:
        return ClaimType.WRITTEN_CONTRACT
    return ClaimType.OPEN_ACCOUNT


@dataclass(frozen=True, slots=True)
class Limitation:
    """When one receivable's claim expires, and whether that is near."""

    expires_on: date
    years: int
    state: str
    claim_type: ClaimType
    table_version: str

    def time_barred(self, as_of: date) -> bool:
        """True on and after the expiry date."""
        return as_of >= self.expires_on

    def near_expiry(self, as_of: date, within_months: int) -> bool:
        """True when not yet barred but expiring within ``within_months``."""
        return not self.time_barred(as_of) and as_of >= add_months(self.expires_on, -within_months)


@dataclass(frozen=True, slots=True)
class StatuteTable:
    """Years by state and claim type; states not listed use the ``default`` row."""

    version: str
    years: dict[str, dict[ClaimType, int]]
    default: dict[ClaimType, int]

    @classmethod
    def from_toml(cls, text: str) -> StatuteTable:
        """Parse a table in the shipped format."""
        data = tomllib.loads(text)
        try:

            def row(values: dict[str, int]) -> dict[ClaimType, int]:
                return {claim: int(values[claim.value]) for claim in ClaimType}

            return cls(
                version=str(data["version"]),
                years={state: row(values) for state, values in data["states"].items()},
                default=row(data["default"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DomainError("statute.table", f"malformed statute table: {error}") from None

    @classmethod
    @cache
    def shipped(cls) -> StatuteTable:
        """The table that ships with forwardflow (see its header for the caveats)."""
        text = resources.files("debtsale.data").joinpath("statute_of_limitations.toml")
        return cls.from_toml(text.read_text(encoding="utf-8"))

    def limitation(
        self,
        state: str,
        documentation: Documentation,
        default_date: date,
        last_payment: date | None,
    ) -> Limitation:
        """``expiry = max(default date, last payment date) + years(state, claim type)``."""
        claim = claim_type_for(documentation)
        years = self.years.get(state.upper(), self.default)[claim]
        start = max(default_date, last_payment) if last_payment else default_date
        return Limitation(add_years(start, years), years, state.upper() or "?", claim, self.version)
