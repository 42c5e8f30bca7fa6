"""Dead letters for operators (list, replay) and the exports every role may download."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from debtsale.errors import DomainError
from forwardflow.broker.deadletter import list_dead_letters, replay
from forwardflow.cli.dispatch import portfolio_of
from forwardflow.console import exports, reports
from forwardflow.console.actions import back
from forwardflow.console.app import Console, form_command_id, guard, new_command_id
from forwardflow.console.pages import day_param
from forwardflow.console.store import Session, record_audit

__all__ = ["operate_routes"]

log = logging.getLogger("forwardflow.console")

_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _rows(console: Console, request: Request, name: str) -> tuple[str, exports.Rows]:
    """(file stem, rows) of one export; the page's own report."""
    app, q = console.app, request.query_params
    if name == "valuation":
        report = reports.valuation(
            app, q.get("agreement", ""), q.get("tenant", ""), day_param(request, "as_of")
        )
        return f"valuation-{report.agreement_id}-{report.as_of}", exports.valuation_rows(report)
    portfolio = portfolio_of(app, q.get("portfolio", ""))
    if name == "reconciliation":
        rows = exports.reconciliation_rows(reports.reconciliation(app, portfolio))
        return f"reconciliation-{portfolio.id}", rows
    if name == "putbacks":
        return f"putbacks-{portfolio.id}", exports.putback_rows(reports.putback_ledger(portfolio))
    if name == "remittance":
        as_of = day_param(request, "as_of")
        rows = exports.remittance_rows(reports.statement(app, portfolio.id, as_of))
        return f"remittance-{portfolio.id}-{as_of}", rows
    raise DomainError("export.known", f"no export {name}")


class Operate:
    """Exports for everyone; dead letters for operators."""

    def __init__(self, console: Console) -> None:
        self.console, self.app = console, console.app

    async def download(self, request: Request, session: Session) -> Response:
        name, kind = request.path_params["name"], request.path_params["kind"]
        if kind not in _MEDIA:
            return self.console.refuse(request, session, 404, "exports are csv or xlsx")
        try:
            stem, rows = await asyncio.to_thread(_rows, self.console, request, name)
        except DomainError as error:
            return self.console.refuse(request, session, 404, str(error))
        body = exports.table_csv(rows) if kind == "csv" else exports.table_xlsx(name, rows)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
        return Response(
            body,
            media_type=_MEDIA[kind],
            headers={"content-disposition": f'attachment; filename="{safe}.{kind}"'},
        )

    async def dead_letters(self, request: Request, session: Session) -> Response:
        letters: list[Any] = []
        if self.console.bus is not None:
            letters = await list_dead_letters(self.console.bus.broker, self.console.app.topology)
        return self.console.render(
            request,
            "deadletters.html",
            session,
            letters=letters,
            connected=self.console.bus is not None,
            new_id=lambda: new_command_id("replay"),
        )

    async def replay_one(self, request: Request, session: Session) -> Response:
        form = await request.form()
        command_id = form_command_id(form, "replay")
        if self.console.bus is None or command_id is None:
            return self.console.refuse(request, session, 400, "no broker to replay through")
        wanted = int(request.path_params["letter"])
        letters = await list_dead_letters(self.console.bus.broker, self.console.app.topology)
        found = [letter for letter in letters if letter.id == wanted]
        if not found:  # replayed already (a second submit) or purged: nothing to do again
            return back("/deadletters", f"dead letter {wanted}: already replayed or gone")
        await replay(self.console.bus.broker, self.console.app.topology, found[0])
        await asyncio.to_thread(
            record_audit,
            self.console.app.engine,
            session.email,
            "replay dead letter",
            str(wanted),
            "replayed",
            command_id=command_id,
        )
        return back("/deadletters", f"dead letter {wanted} replayed")


def operate_routes(console: Console) -> list[Route]:
    """``/deadletters`` (operators) and ``/exports/{name}.{csv|xlsx}`` (everyone)."""
    operate = Operate(console)
    return [
        Route("/exports/{name}.{kind}", guard(console, "read", operate.download)),
        Route("/deadletters", guard(console, "operate", operate.dead_letters)),
        Route(
            "/deadletters/{letter:int}/replay",
            guard(console, "operate", operate.replay_one),
            methods=["POST"],
        ),
    ]
