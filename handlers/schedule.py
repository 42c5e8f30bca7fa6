"""The forward-flow scheduler: which tranches are due to be cut or closed, and doing it.

Planning is a pure function of the agreements, the portfolios and today's date; the
commands it yields have ids derived from the agreement and the tranche's cut-off, so
running the scheduler twice (or on two replicas) applies each tranche once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from debtsale.agreement import Agreement, AgreementKind
from debtsale.calendar import add_business_days
from debtsale.commands import ClosePortfolio, Command, CutPortfolio
from debtsale.errors import DomainError
from debtsale.portfolio import Portfolio, PortfolioStatus
from handlers.outcome import Outcome
from handlers.ports import UnitOfWork
from handlers.registry import handle_command

__all__ = ["plan_tranches", "run_schedule", "tranche_id"]


def tranche_id(agreement: Agreement, cutoff: date) -> str:
    """The portfolio id of the tranche cut on ``cutoff``."""
    return f"{agreement.id}-{cutoff.isoformat()}"


def _closing(agreement: Agreement, cutoff: date) -> date:
    return add_business_days(cutoff, agreement.closing_business_days, agreement.remittance.holidays)


def plan_tranches(
    agreements: Iterable[Agreement], portfolios: Iterable[Portfolio], today: date
) -> list[Command]:
    """Commands due on ``today``: cut the latest tranche not cut yet, close those now due.

    Only the most recent period's tranche is cut automatically: a tranche missed long
    ago would freeze stale faces, so the controller cuts it by hand if it is wanted.
    """
    by_id = {p.id: p for p in portfolios}
    commands: list[Command] = []
    for agreement in agreements:
        if agreement.kind is not AgreementKind.FORWARD_FLOW or agreement.tenant is None:
            continue
        cutoffs = agreement.tranche_cutoffs(until=today)
        if cutoffs and tranche_id(agreement, cutoffs[-1]) not in by_id:
            pid = tranche_id(agreement, cutoffs[-1])
            commands.append(
                CutPortfolio(
                    command_id=f"schedule:cut:{pid}",
                    tenant=agreement.tenant,
                    portfolio_id=pid,
                    agreement_id=agreement.id,
                    cutoff=cutoffs[-1],
                )
            )
        for cutoff in cutoffs:
            portfolio = by_id.get(tranche_id(agreement, cutoff))
            closing = _closing(agreement, cutoff)
            if portfolio and portfolio.status is PortfolioStatus.CUT and closing <= today:
                commands.append(
                    ClosePortfolio(
                        command_id=f"schedule:close:{portfolio.id}",
                        portfolio_id=portfolio.id,
                        closing=closing,
                    )
                )
    return commands


def run_schedule(
    unit_of_work: Callable[[], UnitOfWork], today: date
) -> list[tuple[Command, Outcome | DomainError]]:
    """Plan on the stored agreements and portfolios, then apply each command once.

    A command refused by a rule (say, a tranche with nothing to cut) is reported with
    its refusal and does not stop the others; the next round plans it again.
    """
    with unit_of_work() as uow:
        plan = plan_tranches(uow.agreements.list(), uow.portfolios.list(), today)
    done: list[tuple[Command, Outcome | DomainError]] = []
    for command in plan:
        try:
            done.append((command, handle_command(unit_of_work(), command)))
        except DomainError as refused:
            done.append((command, refused))
    return done
