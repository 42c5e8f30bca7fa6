"""What handling a message did, and the steps every command handler shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import wraps
from typing import TypeVar

from debtsale.commands import Command
from debtsale.errors import RuleViolation
from debtsale.events import DomainEvent
from debtsale.portfolio import Portfolio
from handlers.ports import UnitOfWork

__all__ = ["COMMANDS_CONSUMER", "Outcome", "load_portfolio", "once", "save_portfolio"]

COMMANDS_CONSUMER = "commands"
"""The inbox's consumer name for commands: a command id is applied once."""


class Outcome(StrEnum):
    """What handling a message did, for logs, metrics and the CLI."""

    APPLIED = "applied"
    STALE = "stale"  # an older version than the one held: ignored
    DUPLICATE = "duplicate"  # this event or command id was applied before: a redelivery
    SKIPPED = "skipped"  # nothing to do for this message here (e.g. no delivery configured)


CommandT = TypeVar("CommandT", bound=Command)


def once(
    handler: Callable[[UnitOfWork, CommandT], Outcome],
) -> Callable[[UnitOfWork, CommandT], Outcome]:
    """A command handler applied once per command id, inside its unit of work.

    The inbox claim opens the unit: a command id seen before answers ``DUPLICATE`` and
    changes nothing; otherwise the handler runs in the same transaction, so the claim is
    committed with its effect or not at all.
    """

    @wraps(handler)
    def run(uow: UnitOfWork, command: CommandT) -> Outcome:
        with uow:
            if not uow.inbox.claim(COMMANDS_CONSUMER, command.command_id):
                return Outcome.DUPLICATE
            return handler(uow, command)

    return run


def load_portfolio(uow: UnitOfWork, portfolio_id: str) -> Portfolio:
    """The portfolio; an unknown id is a rule violation (the sender named the wrong one)."""
    portfolio = uow.portfolios.get(portfolio_id)
    if portfolio is None:
        raise RuleViolation("portfolio.known", f"no portfolio {portfolio_id}")
    return portfolio


def save_portfolio(
    uow: UnitOfWork, portfolio: Portfolio, extra: Iterable[DomainEvent] = (), *, new: bool = False
) -> None:
    """Store the portfolio with the events it raised (and ``extra``) in the same commit."""
    for event in [*portfolio.pull_events(), *extra]:
        uow.events.publish(event)
    if new:
        uow.portfolios.add(portfolio)
    else:
        uow.portfolios.save(portfolio)
    uow.commit()
