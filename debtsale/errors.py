"""Domain errors; each names the rule it enforces so a caller can show or log it."""

from __future__ import annotations

__all__ = ["CurrencyMismatchError", "DomainError", "IllegalTransitionError", "RuleViolation"]


class DomainError(Exception):
    """A broken business rule: ``rule`` is a stable identifier, the message explains it."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"[{rule}] {message}")


class CurrencyMismatchError(DomainError):
    """Money of two currencies met in one calculation."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__("money.same_currency", f"cannot combine {left} with {right}")


class IllegalTransitionError(DomainError):
    """A receivable was asked to move to a state its lifecycle does not allow."""


class RuleViolation(DomainError):  # noqa: N818 - a violation is the thing, not an error in it
    """An operation that the sale agreement or the sale rules forbid."""
