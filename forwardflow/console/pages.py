"""The console's pages (GET): each shows a domain report the CLI's ``--json`` also prints."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from debtsale.commands import CutPortfolio
from debtsale.errors import DomainError
from debtsale.portfolio import Portfolio
from forwardflow.clock import today
from forwardflow.console import charts, reports
from forwardflow.console.app import Console, guard, new_command_id
from forwardflow.console.store import Session, audit_page
from forwardflow.store.deliveries import SqlDeliveryStore

__all__ = ["Page", "Pages", "day_param", "page_routes"]

PAGE_SIZE = 50


class Page:
    """One page of a long list, and where the neighbouring pages are."""

    def __init__(self, request: Request, total: int, size: int = PAGE_SIZE) -> None:
        try:
            number = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            number = 1
        self.total, self.size = total, size
        self.pages = max(1, -(-total // size))
        self.number = min(number, self.pages) if total else number  # unknown total: as asked
        self.offset = (self.number - 1) * size
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        self.base = urlencode(query)

    def slice(self, items: list[Any]) -> list[Any]:
        """This page's items of the whole list."""
        return items[self.offset : self.offset + self.size]


def day_param(request: Request, name: str) -> date:
    """A YYYY-MM-DD query parameter, or today."""
    try:
        return date.fromisoformat(request.query_params.get(name, ""))
    except ValueError:
        return today()


def _agreements(console: Console) -> list[Any]:
    with console.app.unit_of_work() as uow:
        return uow.agreements.list()


def _portfolios(console: Console) -> list[Portfolio]:
    def load() -> list[Portfolio]:
        with console.app.unit_of_work() as uow:
            return uow.portfolios.list()

    return reports.cached(console.app, ("portfolios",), "", load)


def _choices(console: Console, request: Request) -> dict[str, Any]:
    """The agreement and company a page is about (chosen, or the first)."""
    agreements = _agreements(console)
    tenants = reports.tenants(console.app)
    agreement = request.query_params.get("agreement") or (agreements[0].id if agreements else "")
    tenant = request.query_params.get("tenant") or (tenants[0] if tenants else "")
    return {
        "agreements": agreements,
        "tenants": tenants,
        "agreement": agreement,
        "tenant": tenant,
        "currency": next((a.currency for a in agreements if a.id == agreement), "USD"),
    }


class Pages:
    """The page handlers; each reads a report and renders it."""

    def __init__(self, console: Console) -> None:
        self.console, self.app = console, console.app

    async def home(self, request: Request, session: Session) -> Response:
        return RedirectResponse("/companies", status_code=303)

    async def companies(self, request: Request, session: Session) -> Response:
        rows = await asyncio.to_thread(reports.company_rows, self.app)
        tenants = await asyncio.to_thread(reports.tenants, self.app)
        return self.console.render(
            request,
            "companies.html",
            session,
            rows=rows,
            tenants=tenants,
            connect_id=new_command_id("connect"),
        )

    async def aging(self, request: Request, session: Session) -> Response:
        def work() -> dict[str, Any]:
            chosen = _choices(self.console, request)
            as_of = day_param(request, "as_of")
            tenant, currency = chosen["tenant"], chosen["currency"]
            cells = (
                reports.cached(
                    self.app,
                    ("aging", as_of, currency),
                    tenant,
                    lambda: reports.aging(reports.ledger_of(self.app, tenant), as_of, currency),
                )
                if tenant
                else []
            )
            buckets: dict[str, Decimal] = {}
            for cell in cells:
                buckets[cell.age_bucket] = buckets.get(cell.age_bucket, Decimal(0)) + (
                    cell.balance.amount
                )
            chart = charts.bars("open balance by age", list(buckets), list(buckets.values()))
            total = sum((c.balance.amount for c in cells), Decimal(0))
            return {**chosen, "as_of": as_of, "cells": cells, "chart": chart, "total": total}

        return self.console.render(request, "aging.html", session, **await asyncio.to_thread(work))

    async def cohort(self, request: Request, session: Session) -> Response:
        def work() -> dict[str, Any]:
            chosen = _choices(self.console, request)
            as_of = day_param(request, "as_of")
            q = request.query_params
            key = (q.get("age", ""), q.get("tier", ""), q.get("docs", ""))
            tenant, currency = chosen["tenant"], chosen["currency"]
            found = reports.cached(
                self.app,
                ("cohort", as_of, key, currency),
                tenant,
                lambda: reports.cohort_receivables(
                    reports.ledger_of(self.app, tenant), as_of, key, currency
                ),
            )
            if customer := q.get("customer"):
                found = [pair for pair in found if pair[0].customer_id == customer]
            page = Page(request, len(found))
            ledger = reports.ledger_of(self.app, chosen["tenant"])
            rows = [
                (r, face, (p.legal_name if (p := ledger.profile(r.customer_id)) else ""))
                for r, face in page.slice(found)
            ]
            return {**chosen, "as_of": as_of, "key": key, "rows": rows, "page": page}

        return self.console.render(request, "cohort.html", session, **await asyncio.to_thread(work))

    async def valuation(self, request: Request, session: Session) -> Response:
        def work() -> dict[str, Any]:
            chosen = _choices(self.console, request)
            as_of = day_param(request, "as_of")
            report = reports.valuation(self.app, chosen["agreement"], chosen["tenant"], as_of)
            labels = [f"{c.age_bucket} {c.balance_tier}" for c in report.cohorts]
            chart = charts.paired_bars(
                "offer vs internal recovery by cohort",
                labels,
                [c.offer.amount for c in report.cohorts],
                [c.internal_recovery.amount for c in report.cohorts],
            )
            return {**chosen, "as_of": as_of, "report": report, "chart": chart}

        try:
            data = await asyncio.to_thread(work)
        except DomainError as error:
            return self.console.refuse(request, session, 400, str(error))
        return self.console.render(request, "valuation.html", session, **data)

    async def cut(self, request: Request, session: Session) -> Response:
        def work() -> dict[str, Any]:
            chosen = _choices(self.console, request)
            q = request.query_params
            cutoff = day_param(request, "cutoff")
            excluded = tuple(sorted({c.strip() for c in q.get("exclude", "").split(",") if c}))
            pid = q.get("portfolio_id") or f"{chosen['agreement']}-{cutoff.isoformat()}"
            preview = None
            if q.get("preview") and chosen["agreement"] and chosen["tenant"]:
                command = CutPortfolio(
                    command_id="preview",
                    tenant=chosen["tenant"],
                    portfolio_id=pid,
                    agreement_id=chosen["agreement"],
                    cutoff=cutoff,
                    only_advised=bool(q.get("only_advised")),
                    excluded_customers=excluded,
                )
                preview = reports.cut_preview(self.app, command)
            return {
                **chosen,
                "cutoff": cutoff,
                "only_advised": bool(q.get("only_advised")),
                "exclude": ",".join(excluded),
                "portfolio_id": pid,
                "preview": preview,
                "command_id": new_command_id("cut"),
            }

        try:
            data = await asyncio.to_thread(work)
        except DomainError as error:
            return self.console.refuse(request, session, 400, str(error))
        return self.console.render(request, "cut.html", session, **data)

    async def portfolios(self, request: Request, session: Session) -> Response:
        rows = await asyncio.to_thread(_portfolios, self.console)
        return self.console.render(request, "portfolios.html", session, rows=rows)

    async def portfolio(self, request: Request, session: Session) -> Response:
        def work() -> dict[str, Any]:
            found = [p for p in _portfolios(self.console) if p.id == request.path_params["pid"]]
            if not found:
                raise DomainError("portfolio.known", "no such portfolio")
            done = reports.reconciled(self.app, found[0])
            report, totals = done.report, done.totals
            page = Page(request, len(report.lines))
            with self.app.unit_of_work() as uow:
                receipt = SqlDeliveryStore(uow.connection).get(found[0].id)
            steps = [("face at cut-off", totals["face_at_cutoff"].amount, True)]
            steps += [("adjustments", totals["adjustments"].amount, False)]
            steps += [("final face", totals["final_face"].amount, True)]
            if totals["loss_on_sale"] is not None:  # final face → price is the loss
                steps.append(("loss", -totals["loss_on_sale"].amount, False))
            steps += [("price", totals["price"].amount, True)]
            return {
                "portfolio": found[0],
                "report": report,
                "totals": totals,
                "lines": page.slice(list(report.lines)),
                "page": page,
                "receipt": receipt,
                "chart": charts.waterfall("sale reconciliation", steps),
                "close_id": new_command_id("close"),
            }

        try:
            data = await asyncio.to_thread(work)
        except DomainError as error:
            return self.console.refuse(request, session, 404, str(error))
        return self.console.render(request, "portfolio.html", session, **data)

    async def putbacks(self, request: Request, session: Session) -> Response:
        def work() -> dict[str, Any]:
            sold = [p for p in _portfolios(self.console) if p.closing is not None]
            return {
                "ledgers": [(p, reports.putback_ledger(p)) for p in sold],
                "new_id": lambda: new_command_id("putback"),
            }

        data = await asyncio.to_thread(work)
        return self.console.render(request, "putbacks.html", session, **data)

    async def remittance(self, request: Request, session: Session) -> Response:
        as_of = day_param(request, "as_of")

        def work() -> dict[str, Any]:
            sold = [p for p in _portfolios(self.console) if p.closing is not None]
            with self.app.unit_of_work() as uow:
                buyers = {a.id: a.buyer for a in uow.agreements.list()}
            statements = [
                (p, buyers.get(p.agreement_id, ""), reports.statement(self.app, p.id, as_of))
                for p in sold
            ]
            return {
                "statements": statements,
                "as_of": as_of,
                "new_id": lambda: new_command_id("remit"),
            }

        data = await asyncio.to_thread(work)
        return self.console.render(request, "remittance.html", session, **data)

    async def journal(self, request: Request, session: Session) -> Response:
        page = Page(request, 0)
        rows, total = await asyncio.to_thread(reports.postings, self.app, page.offset, PAGE_SIZE)
        page = Page(request, total)
        return self.console.render(request, "journal.html", session, rows=rows, page=page)

    async def audit(self, request: Request, session: Session) -> Response:
        page = Page(request, 0)
        rows, total = await asyncio.to_thread(audit_page, self.app.engine, page.offset, PAGE_SIZE)
        page = Page(request, total)
        return self.console.render(request, "audit.html", session, rows=rows, page=page)


def page_routes(console: Console) -> list[Route]:
    """Every page of the console."""
    pages = Pages(console)
    paths = {
        "/": pages.home,
        "/companies": pages.companies,
        "/aging": pages.aging,
        "/aging/cohort": pages.cohort,
        "/valuation": pages.valuation,
        "/cut": pages.cut,
        "/portfolios": pages.portfolios,
        "/portfolios/{pid}": pages.portfolio,
        "/putbacks": pages.putbacks,
        "/remittance": pages.remittance,
        "/journal": pages.journal,
        "/audit": pages.audit,
    }
    return [Route(path, guard(console, "read", handler)) for path, handler in paths.items()]
