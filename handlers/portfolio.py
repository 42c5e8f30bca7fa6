"""Portfolio commands: cut and close, each once per command id, events in the same commit."""

from __future__ import annotations

from debtsale.commands import ClosePortfolio, CutPortfolio
from debtsale.errors import RuleViolation
from debtsale.portfolio import Portfolio
from handlers.ledger import Outcome
from handlers.ports import UnitOfWork

__all__ = ["COMMANDS_CONSUMER", "close_portfolio", "cut_portfolio"]

COMMANDS_CONSUMER = "commands"


def _hand_over_events(uow: UnitOfWork, portfolio: Portfolio) -> None:
    for event in portfolio.pull_events():
        uow.events.publish(event)


def cut_portfolio(uow: UnitOfWork, tenant: str, command: CutPortfolio) -> Outcome:
    """Cut a new portfolio from the tenant's ledger under the named agreement."""
    with uow:
        if not uow.inbox.claim(COMMANDS_CONSUMER, command.command_id):
            return Outcome.DUPLICATE
        if uow.portfolios.get(command.portfolio_id) is not None:
            raise RuleViolation(
                "portfolio.unique", f"portfolio {command.portfolio_id} already exists"
            )
        agreement = uow.agreements.get(command.agreement_id)
        portfolio = Portfolio.cut(
            command.portfolio_id,
            agreement,
            uow.ledger.load(tenant),
            command.cutoff,
            taken=uow.portfolios.unavailable(tenant),
        )
        _hand_over_events(uow, portfolio)
        uow.portfolios.add(portfolio)
        uow.commit()
    return Outcome.APPLIED


def close_portfolio(uow: UnitOfWork, command: ClosePortfolio) -> Outcome:
    """Reconcile a cut portfolio to its closing date and sell it."""
    with uow:
        if not uow.inbox.claim(COMMANDS_CONSUMER, command.command_id):
            return Outcome.DUPLICATE
        portfolio = uow.portfolios.get(command.portfolio_id)
        if portfolio is None:
            raise RuleViolation("portfolio.known", f"no portfolio {command.portfolio_id}")
        agreement = uow.agreements.get(portfolio.agreement_id)
        portfolio.close(agreement, uow.ledger.load(portfolio.tenant), command.closing)
        _hand_over_events(uow, portfolio)
        uow.portfolios.save(portfolio)
        uow.commit()
    return Outcome.APPLIED
