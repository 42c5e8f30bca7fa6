"""Portfolio commands: cut, flag, remove, close — each once per command id, events alongside."""

from __future__ import annotations

from debtsale.commands import ClosePortfolio, CutPortfolio, FlagReceivable, RemoveReceivable
from debtsale.cutscope import out_of_scope
from debtsale.errors import RuleViolation
from debtsale.journal import sale_entry
from debtsale.ledger import Ledger
from debtsale.portfolio import Portfolio
from debtsale.salefile import sale_file_summary, sold_rows
from debtsale.settlement import flag_candidate_events
from handlers.outcome import Outcome, load_portfolio, once, save_portfolio
from handlers.ports import UnitOfWork
from handlers.remittance import settle_dues

__all__ = [
    "close_portfolio",
    "cut_portfolio",
    "flag_receivable",
    "remove_receivable",
    "select_for_cut",
]


def select_for_cut(
    uow: UnitOfWork, command: CutPortfolio, ledger: Ledger | None = None
) -> Portfolio:
    """The portfolio ``command`` would cut now, not saved (the cut and its preview).

    A preview may pass the tenant's ledger it already holds (read from the same store).
    """
    agreement = uow.agreements.get(command.agreement_id)
    ledger = ledger or uow.ledger.load(command.tenant)
    flags = uow.flags.on(command.tenant, command.cutoff)
    taken = set(uow.portfolios.unavailable(command.tenant))
    if command.only_advised or command.excluded_customers:
        taken |= out_of_scope(
            ledger,
            agreement,
            command.cutoff,
            only_advised=command.only_advised,
            excluded_customers=command.excluded_customers,
            flags=flags,
            taken=taken,
        )
    return Portfolio.cut(
        command.portfolio_id, agreement, ledger, command.cutoff, flags=flags, taken=taken
    )


@once
def cut_portfolio(uow: UnitOfWork, command: CutPortfolio) -> Outcome:
    """Cut a new portfolio from the tenant's ledger under the named agreement.

    Receivables another portfolio holds are skipped; one a concurrent cut claims first
    makes this cut conflict and run again without it (the claims table decides). A cut
    that finds nothing eligible and free is refused and stores nothing.
    """
    if uow.portfolios.get(command.portfolio_id) is not None:
        raise RuleViolation("portfolio.unique", f"portfolio {command.portfolio_id} already exists")
    portfolio = select_for_cut(uow, command)
    if not portfolio.lines:
        raise RuleViolation(
            "portfolio.empty",
            f"nothing to cut: no receivable of {command.tenant} is eligible under "
            f"{command.agreement_id} on {command.cutoff} and free of other sales",
        )
    save_portfolio(uow, portfolio, new=True)
    return Outcome.APPLIED


@once
def flag_receivable(uow: UnitOfWork, command: FlagReceivable) -> Outcome:
    """Record an exclusion fact; cuts skip the receivable and a close removes it."""
    uow.flags.flag(command.tenant, command.receivable_id, command.reason, command.since)
    for holder in uow.portfolios.holding(command.tenant, [command.receivable_id]):
        portfolio = uow.portfolios.get(holder)  # a sold one: a put-back candidate now
        for event in (
            flag_candidate_events(portfolio, command.receivable_id, command.reason, command.since)
            if portfolio
            else []
        ):
            uow.events.publish(event)
    uow.commit()
    return Outcome.APPLIED


@once
def remove_receivable(uow: UnitOfWork, command: RemoveReceivable) -> Outcome:
    """Drop a receivable from a live portfolio, with the reason."""
    portfolio = load_portfolio(uow, command.portfolio_id)
    portfolio.remove(command.receivable_id, command.reason)
    save_portfolio(uow, portfolio)
    return Outcome.APPLIED


@once
def close_portfolio(uow: UnitOfWork, command: ClosePortfolio) -> Outcome:
    """Reconcile a cut portfolio to its closing date, sell it and request the sale entry."""
    portfolio = load_portfolio(uow, command.portfolio_id)
    agreement = uow.agreements.get(portfolio.agreement_id)
    ledger = uow.ledger.load(portfolio.tenant)
    portfolio.close(
        agreement,
        ledger,
        command.closing,
        flags=uow.flags.on(portfolio.tenant, command.closing),
    )
    # the file is what was sold, as sold: frozen in the close's own commit
    uow.sale_files.record(
        sale_file_summary(portfolio, agreement), sold_rows(portfolio, ledger, agreement)
    )
    entries = [sale_entry(portfolio).as_event(portfolio.id)] if portfolio.sold_lines() else []
    for event in [*portfolio.pull_events(), *entries]:
        uow.events.publish(event)
    # money collected between cut-off and closing that is the buyer's (remit, and
    # remove_if_paid partial payments) is owed from the close on: announced with it
    settle_dues(uow, portfolio, ledger, command.closing)
    save_portfolio(uow, portfolio)
    return Outcome.APPLIED
