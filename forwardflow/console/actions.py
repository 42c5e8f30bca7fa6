"""The console's state changes (POST): each one a command through the CLI's own handlers.

A form carries a command id made when it was shown, so a form submitted twice is one
command, applied once (the handlers' inbox), and one line of the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from debtsale.commands import ClosePortfolio, Command, CutPortfolio, DecidePutback, RecordRemittance
from debtsale.errors import DomainError
from debtsale.money import Money
from forwardflow.cli.dispatch import portfolio_of
from forwardflow.connect import mint_link
from forwardflow.console.app import Console, form_command_id, guard
from forwardflow.console.store import Session, record_audit
from handlers.outcome import Outcome
from handlers.registry import handle_command

__all__ = ["action_routes", "apply", "back"]

log = logging.getLogger("forwardflow.console")


def _day(form: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(form.get(name, "")))
    except ValueError:
        raise DomainError("form.date", f"{name} is not a YYYY-MM-DD date") from None


async def apply(
    console: Console, session: Session, action: str, target: str, command: Command
) -> str:
    """Apply ``command`` with its registered handler; audit it once; say how it ended."""
    app = console.app
    try:
        outcome = await asyncio.to_thread(handle_command, app.unit_of_work(), command)
    except DomainError as error:
        text, detail = "refused", str(error)
    else:
        text, detail = str(outcome), ""
        if outcome is Outcome.DUPLICATE:
            log.info("console %s %s: already applied", action, command.command_id)
            return f"{action} {target}: already done (this form was sent before)"
    await asyncio.to_thread(
        record_audit,
        app.engine,
        session.email,
        action,
        target,
        text,
        command_id=command.command_id,
        detail=detail,
    )
    log.info("console %s %s: %s", action, command.command_id, text)
    return f"{action} {target}: {text}" + (f" — {detail}" if detail else "")


def back(path: str, message: str) -> Response:
    return RedirectResponse(f"{path}?msg={quote(message)}", status_code=303)


class Actions:
    """The state changes; each builds a command from its form and applies it once."""

    def __init__(self, console: Console) -> None:
        self.console, self.app = console, console.app

    async def cut(self, request: Request, session: Session) -> Response:
        form = await request.form()
        command_id = form_command_id(form, "cut")
        if command_id is None:
            return self.console.refuse(request, session, 400, "this form has no valid command id")
        try:
            excluded = tuple(sorted({c.strip() for c in str(form.get("exclude", "")).split(",")}))
            command = CutPortfolio(
                command_id=command_id,
                tenant=str(form.get("tenant", "")),
                portfolio_id=str(form.get("portfolio_id", ""))[:64],
                agreement_id=str(form.get("agreement", "")),
                cutoff=_day(form, "cutoff"),
                only_advised=bool(form.get("only_advised")),
                excluded_customers=tuple(c for c in excluded if c),
            )
        except DomainError as error:
            return self.console.refuse(request, session, 400, str(error))
        said = await apply(self.console, session, "cut", command.portfolio_id, command)
        return back(f"/portfolios/{quote(command.portfolio_id)}", said)

    async def close(self, request: Request, session: Session) -> Response:
        form, pid = await request.form(), request.path_params["pid"]
        command_id = form_command_id(form, "close")
        if command_id is None:
            return self.console.refuse(request, session, 400, "this form has no valid command id")
        try:
            command = ClosePortfolio(
                command_id=command_id, portfolio_id=pid, closing=_day(form, "closing")
            )
        except DomainError as error:
            return self.console.refuse(request, session, 400, str(error))
        said = await apply(self.console, session, "close", pid, command)
        return back(f"/portfolios/{quote(pid)}", said)

    async def decide(self, request: Request, session: Session) -> Response:
        form = await request.form()
        pid, rid = request.path_params["pid"], request.path_params["rid"]
        command_id = form_command_id(form, "putback")
        if command_id is None:
            return self.console.refuse(request, session, 400, "this form has no valid command id")
        try:
            command = DecidePutback(
                command_id=command_id,
                portfolio_id=pid,
                request_id=rid,
                accept=form.get("decision") == "accept",
                decided_on=_day(form, "decided_on"),
                reinstate=bool(form.get("reinstate")),
                note=str(form.get("note", ""))[:500],
            )
        except DomainError as error:
            return self.console.refuse(request, session, 400, str(error))
        verb = "accept put-back" if command.accept else "decline put-back"
        said = await apply(self.console, session, verb, f"{pid}/{rid}", command)
        return back("/putbacks", said)

    async def remit(self, request: Request, session: Session) -> Response:
        form, pid = await request.form(), request.path_params["pid"]
        command_id = form_command_id(form, "remit")
        if command_id is None:
            return self.console.refuse(request, session, 400, "this form has no valid command id")
        try:
            currency = (await asyncio.to_thread(portfolio_of, self.app, pid)).currency
            amount = Money(Decimal(str(form.get("amount", ""))), currency)
            command = RecordRemittance(
                command_id=command_id,
                portfolio_id=pid,
                remittance_id=command_id.rsplit(":", 1)[1],
                paid_on=_day(form, "paid_on"),
                amount=amount,
            )
        except (DomainError, InvalidOperation):
            return self.console.refuse(request, session, 400, "the amount or the date is not valid")
        said = await apply(self.console, session, "remittance", f"{pid} {amount.amount}", command)
        return back("/remittance", said)

    async def connect(self, request: Request, session: Session) -> Response:
        form, name = await request.form(), request.path_params["platform"]
        if form_command_id(form, "connect") is None or name not in self.app.platforms:
            return self.console.refuse(request, session, 400, "no such platform")
        try:
            wired = self.app.platform(name)
            link, _expires = await asyncio.to_thread(mint_link, wired)
        except Exception as error:  # the platform's self.app is not set up: say so, change nothing
            log.warning("self.console connect link refused: %s", type(error).__name__)
            return back("/companies", f"cannot connect {wired.platform.title} yet: {error}")
        await asyncio.to_thread(
            record_audit, self.app.engine, session.email, "connect link", name, "issued"
        )
        return RedirectResponse(link, status_code=303)


def action_routes(console: Console) -> list[Route]:
    """Cut, close, decide a put-back, record a remittance, connect a company (controllers)."""
    actions = Actions(console)
    paths = {
        "/cut": actions.cut,
        "/portfolios/{pid}/close": actions.close,
        "/putbacks/{pid}/{rid}/decide": actions.decide,
        "/remittance/{pid}": actions.remit,
        "/companies/connect/{platform}": actions.connect,
    }
    return [
        Route(path, guard(console, "control", handler), methods=["POST"])
        for path, handler in paths.items()
    ]
