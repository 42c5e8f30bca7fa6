"""Which handler serves which message: the one explicit list the wiring subscribes from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from debtsale.commands import (
    ClosePortfolio,
    Command,
    CutPortfolio,
    DecidePutback,
    FlagReceivable,
    RecordRemittance,
    RemoveReceivable,
    RequestPutback,
)
from debtsale.errors import DomainError
from handlers.ledger import apply_ledger_change, apply_ledger_changes
from handlers.outcome import Outcome
from handlers.portfolio import close_portfolio, cut_portfolio, flag_receivable, remove_receivable
from handlers.ports import UnitOfWork
from handlers.putback import decide_putback, request_putback
from handlers.remittance import record_remittance
from handlers.retry import retrying

__all__ = ["COMMAND_HANDLERS", "LEDGER_BATCH_HANDLER", "LEDGER_HANDLER", "handle_command"]

CommandHandler = Callable[[UnitOfWork, Any], Outcome]

COMMAND_HANDLERS: Mapping[type[Command], CommandHandler] = {
    CutPortfolio: cut_portfolio,
    FlagReceivable: flag_receivable,
    RemoveReceivable: remove_receivable,
    ClosePortfolio: close_portfolio,
    RequestPutback: request_putback,
    DecidePutback: decide_putback,
    RecordRemittance: record_remittance,
}
"""Every command and the one handler that applies it."""

LEDGER_HANDLER = retrying(apply_ledger_change)
"""Every ledger change (invoice, payment, credit, customer) is applied by this handler,
run again from the start when a concurrent writer got there first."""

LEDGER_BATCH_HANDLER = retrying(apply_ledger_changes)
"""A partition's fetched batch of ledger changes, applied in order in one commit (the
ledger consumers' path; ``LEDGER_HANDLER`` is the same rule for one change)."""


def handle_command(uow: UnitOfWork, command: Command) -> Outcome:
    """Apply ``command`` with its registered handler, again on a conflict (handlers.retry)."""
    handler = COMMAND_HANDLERS.get(type(command))
    if handler is None:
        raise DomainError("command.type", f"{type(command).__name__} is not a command")
    return retrying(handler)(uow, command)
