"""The emulator's HTTP face: Xero's Accounting API, identity, ``/connections`` and control.

forwardflow's Xero connector talks to it with only its hosts changed (``xero.login_url``,
``xero.identity_url`` and ``xero.api_url`` all point here). Rate limits answer as Xero
does (429, ``Retry-After``, ``X-…Limit-Remaining``); faults can be queued to prove the
connector recovers: ``429`` (with ``retry_after``), ``day``, ``401``, ``500``, ``slow``.
Control endpoints (``/_emulator/…``, not Xero's) change data when it runs on its own.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connectors.xero.client import encode
from emulators.xero.limits import Limits
from emulators.xero.oauth import Identity
from emulators.xero.org import Change, EmulatedOrganisation
from emulators.xero.pdf import invoice_pdf
from emulators.xero.webhooks import WebhookSender

__all__ = ["Fault", "XeroEmulator"]

_WHERE = re.compile(
    r'^(Narration|Reference)(?:\.Contains\("([^"\\]{1,200})"\)|=="([^"\\]{1,200})")$'
)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(data), status, headers, media_type="application/json")


def _write(org: EmulatedOrganisation, name: str, row: dict[str, Any]) -> dict[str, Any]:
    """Create one ManualJournal or (sales) CreditNote from a request row."""
    if name == "ManualJournals":
        return org.add_manual_journal(row)
    if row.get("Type", "ACCRECCREDIT") != "ACCRECCREDIT":
        raise ValueError("the emulator writes sales credit notes (ACCRECCREDIT) only")
    total = sum(
        (
            Decimal(str(x.get("Quantity", 1))) * Decimal(str(x["UnitAmount"]))
            for x in row["LineItems"]
        ),
        Decimal(0),
    )
    return org.add_credit_note(
        row["Contact"]["ContactID"],
        total,
        date.fromisoformat(str(row["Date"])[:10]),
        reference=str(row.get("Reference") or ""),
        account_code=str(row["LineItems"][0].get("AccountCode") or "200"),
    )


def _where(rows: list[dict[str, Any]], where: str) -> list[dict[str, Any]] | None:
    """Rows matching clauses joined by `` OR `` (``Field=="x"``, ``Field.Contains("x")``
    on Narration or Reference); None for a filter the emulator does not read."""
    clauses = [_WHERE.fullmatch(part.strip()) for part in where.split(" OR ")]
    if not clauses or any(c is None for c in clauses):
        return None

    def hit(row: dict[str, Any]) -> bool:
        for c in clauses:
            assert c is not None
            held = str(row.get(c[1], ""))
            if (c[2] is not None and c[2] in held) or (c[3] is not None and held == c[3]):
                return True
        return False

    return [row for row in rows if hit(row)]


@dataclass
class Fault:
    """A failure to answer with, ``times`` times, on API paths containing ``path``."""

    kind: str  # "429", "day", "401", "500", "slow"
    path: str = "/api.xro/"
    times: int = 1
    retry_after: int = 2


@dataclass
class XeroEmulator:
    """Organisations, the app's identity, limits, queued faults, and webhooks out."""

    webhook_key: str = "emulator-xero-webhook-key"
    webhook_url: str | None = None
    retry_scale: float = 1.0
    slow_seconds: float = 2.0
    base_url: str = "http://127.0.0.1:0"
    identity: Identity = field(default_factory=Identity)
    limits: Limits = field(default_factory=Limits)
    orgs: dict[str, EmulatedOrganisation] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    idempotent: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sender: WebhookSender | None = None

    def __post_init__(self) -> None:
        self.sender = WebhookSender(self.webhook_key, self.webhook_url, self.retry_scale)

    # ------------------------------------------------------------ set-up
    def organisation(self, tenant_id: str | None = None, **options: Any) -> EmulatedOrganisation:
        """The organisation of ``tenant_id``, created (and wired to webhooks) on first use."""
        if tenant_id is None or tenant_id not in self.orgs:
            org = EmulatedOrganisation(**options)
            if tenant_id is not None:
                org.tenant_id = tenant_id
            org.listeners.append(self._notify)
            self.orgs[org.tenant_id] = org
            return org
        return self.orgs[tenant_id]

    def send_webhooks_to(self, url: str | None) -> None:
        """Where signed webhooks go from now on (forwardflow's ``/webhooks/xero``)."""
        assert self.sender is not None
        self.webhook_url = self.sender.url = url

    def inject(
        self, kind: str, path: str = "/api.xro/", times: int = 1, retry_after: int = 2
    ) -> None:
        """Answer the next ``times`` matching API requests with a fault."""
        self.faults.append(Fault(kind, path, times, retry_after))

    def _notify(self, org: EmulatedOrganisation, change: Change) -> None:
        assert self.sender is not None
        self.sender.send(org.tenant_id, [change])

    def stop_webhooks(self) -> None:
        """Stop retrying webhooks."""
        assert self.sender is not None
        self.sender.stop()

    # ------------------------------------------------------------ the guard
    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path in path and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _guard(self, request: Request) -> tuple[EmulatedOrganisation | None, Response | None]:
        """The organisation a call may use, or the answer refusing it."""
        self.calls.append(f"{request.method} {request.url.path}")
        tenant = request.headers.get("xero-tenant-id", "")
        fault = self._take_fault(request.url.path)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(self.slow_seconds)
        elif fault is not None:
            limits = self.limits.headers(tenant)
            if fault.kind == "429":
                limits.update(
                    {
                        "Retry-After": str(fault.retry_after),
                        "X-Rate-Limit-Problem": "minute",
                        "X-MinLimit-Remaining": "0",
                    }
                )
                return None, Response("Too Many Requests", 429, limits)
            if fault.kind == "day":
                self.limits.spend_day(tenant)
                limits.update(
                    {
                        "Retry-After": str(fault.retry_after),
                        "X-Rate-Limit-Problem": "day",
                        "X-DayLimit-Remaining": "0",
                    }
                )
                return None, Response("Too Many Requests", 429, limits)
            if fault.kind == "401":
                return None, _json({"Type": None, "Title": "Unauthorized", "Status": 401}, 401)
            return None, _json({"Title": "An error occurred", "Status": 500}, 500)
        grant = self.identity.grant_of(request.headers.get("authorization", ""))
        if grant is None:
            return None, _json(
                {"Title": "Unauthorized", "Detail": "TokenExpired", "Status": 401}, 401
            )
        if tenant not in grant.tenants or tenant not in self.orgs:
            return None, _json(
                {"Title": "Forbidden", "Detail": "AuthenticationUnsuccessful", "Status": 403}, 403
            )
        refused = self.limits.take(tenant)
        if refused is not None:
            problem, wait = refused
            headers = {
                **self.limits.headers(tenant),
                "Retry-After": str(wait),
                "X-Rate-Limit-Problem": problem,
            }
            return None, Response("Too Many Requests", 429, headers)
        return self.orgs[tenant], None

    def _answer(self, org: EmulatedOrganisation, data: Any, status: int = 200) -> Response:
        self.limits.done(org.tenant_id)
        return _json(data, status, self.limits.headers(org.tenant_id))

    # ------------------------------------------------------------ the Accounting API
    async def _list(self, request: Request) -> Response:
        org, refused = await self._guard(request)
        if org is None:
            return refused or Response(status_code=500)
        name = request.path_params["collection"]
        try:
            org.collection(name)
        except KeyError:
            return self._answer(org, {"Title": "Not found", "Status": 404}, 404)
        since = None
        if header := request.headers.get("if-modified-since"):
            try:
                since = datetime.fromisoformat(header.replace("Z", "")).replace(tzinfo=UTC)
            except ValueError:
                return self._answer(org, {"Title": "Bad If-Modified-Since", "Status": 400}, 400)
        rows = org.modified_since(name, since)
        if where := request.query_params.get("where"):
            kept = _where(rows, where)
            if kept is None:
                refusal = {"Title": f"unsupported where {where!r}", "Status": 400}
                return self._answer(org, refusal, 400)
            rows = kept
        if ids := request.query_params.get("IDs"):
            wanted = set(ids.split(","))
            rows = [r for r in rows if wanted & {str(v) for k, v in r.items() if k.endswith("ID")}]
        page = int(request.query_params.get("page", "0") or 0)
        if page:
            rows = rows[(page - 1) * 100 : page * 100]
        page_rows = copy.deepcopy(rows)
        return self._answer(org, {"Id": "emulator", "Status": "OK", name: page_rows})

    async def _one(self, request: Request) -> Response:
        org, refused = await self._guard(request)
        if org is None:
            return refused or Response(status_code=500)
        name, key = request.path_params["collection"], request.path_params["resource_id"]
        try:
            row = org.collection(name).get(key)
        except KeyError:
            row = None
        if row is None:
            return self._answer(org, {"Title": "Resource Not Found", "Status": 404}, 404)
        if name == "Invoices" and "application/pdf" in request.headers.get("accept", ""):
            self.limits.done(org.tenant_id)
            return Response(invoice_pdf(org.tenant_id, row), media_type="application/pdf")
        return self._answer(org, {"Id": "emulator", "Status": "OK", name: [row]})

    async def _create(self, request: Request) -> Response:
        org, refused = await self._guard(request)
        if org is None:
            return refused or Response(status_code=500)
        name = request.path_params["collection"]
        if name not in ("ManualJournals", "CreditNotes"):
            title = f"the emulator writes ManualJournals and CreditNotes, not {name}"
            return self._answer(org, {"Title": title, "Status": 400}, 400)
        key = request.headers.get("idempotency-key", "")
        if len(key) > 128:
            return self._answer(org, {"Title": "Idempotency-Key over 128", "Status": 400}, 400)
        if key and (held := self.idempotent.get((org.tenant_id, key))) is not None:
            return self._answer(org, held)
        try:
            body = json.loads(await request.body(), parse_float=Decimal)
            made = [_write(org, name, row) for row in body[name]]
        except (ValueError, KeyError, TypeError) as error:
            refusal = {"Type": "ValidationException", "Message": str(error), "Status": 400}
            return self._answer(org, refusal, 400)
        answer = {"Id": "emulator", "Status": "OK", name: made}
        if key:
            self.idempotent[(org.tenant_id, key)] = answer
        return self._answer(org, answer)

    async def _credit_note(self, request: Request) -> Response:
        """Allocate (``PUT …/Allocations``), take back an allocation (``DELETE …/{id}``) or
        void (``POST`` with ``Status: VOIDED``; refused while allocations remain, as Xero)."""
        org, refused = await self._guard(request)
        if org is None:
            return refused or Response(status_code=500)
        note_id = request.path_params["resource_id"]
        if note_id not in org.credit_notes:
            return self._answer(org, {"Title": "Resource Not Found", "Status": 404}, 404)
        try:
            if request.method == "DELETE":
                found = org.delete_allocation(note_id, request.path_params["allocation_id"])
                return self._answer(org, {"Status": "OK"}, 200 if found else 404)
            body = json.loads(await request.body(), parse_float=Decimal)
            if request.method == "PUT":
                parts = {a["Invoice"]["InvoiceID"]: a["Amount"] for a in body["Allocations"]}
                on = date.fromisoformat(
                    str(body["Allocations"][0].get("Date") or datetime.now(UTC).date())
                )
                made = org.allocate(note_id, parts, on)
                return self._answer(org, {"Status": "OK", "Allocations": made["Allocations"]})
            if body["CreditNotes"][0].get("Status") != "VOIDED":
                raise ValueError("the emulator updates a credit note's Status to VOIDED only")
            if org.credit_notes[note_id]["Allocations"]:
                raise ValueError("a credit note with allocations cannot be voided")
            made = org.void_credit_note(note_id)
        except (ValueError, KeyError, TypeError) as error:
            refusal = {"Type": "ValidationException", "Message": str(error), "Status": 400}
            return self._answer(org, refusal, 400)
        return self._answer(org, {"Status": "OK", "CreditNotes": [made]})

    # ------------------------------------------------------------ identity
    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != self.identity.client_id:
            return Response("unknown client_id", status_code=400)
        ticked = [t for t in params.get("tenants", "").split(",") if t] or list(self.orgs)
        code = self.identity.consent(ticked)
        query = urlencode(
            {"code": code, "state": params.get("state", ""), "scope": params.get("scope", "")}
        )
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    async def _token(self, request: Request) -> Response:
        if not self.identity.client_ok(request.headers.get("authorization", "")):
            return _json({"error": "invalid_client"}, 401)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        status, answer = self.identity.token(form)
        return _json(answer, status)

    async def _revocation(self, request: Request) -> Response:
        if not self.identity.client_ok(request.headers.get("authorization", "")):
            return _json({"error": "invalid_client"}, 401)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.identity.revoke(form.get("token", ""))
        return Response(status_code=200)

    async def _connections(self, request: Request) -> Response:
        grant = self.identity.grant_of(request.headers.get("authorization", ""))
        if grant is None:
            return _json({"Title": "Unauthorized", "Status": 401}, 401)
        if request.method == "DELETE":
            found = self.identity.disconnect(grant, request.path_params.get("connection_id", ""))
            return Response(status_code=204 if found else 404)
        return _json(self.identity.connections(grant))

    # ------------------------------------------------------------ control (not Xero)
    async def _control(self, request: Request) -> Response:
        """Change data over HTTP when the emulator runs on its own (see docs/xero.md)."""
        org = self.orgs.get(request.path_params["tenant"])
        if org is None:
            return _json({"error": "unknown tenant"}, 404)
        action = request.path_params["action"]
        data = json.loads(await request.body() or b"{}", parse_float=Decimal)
        day = date.fromisoformat(data["date"]) if data.get("date") else datetime.now(UTC).date()
        actions = {
            "contact": lambda: org.add_contact(data["name"]),
            "invoice": lambda: org.add_invoice(data["contact"], data["amount"], day),
            "payment": lambda: org.pay(data["invoice"], data["amount"], day),
            "delete-payment": lambda: org.delete_payment(data["payment"]),
            "void-invoice": lambda: org.void_invoice(data["invoice"]),
            "credit-note": lambda: org.add_credit_note(
                data["contact"], data["amount"], day, data.get("allocations")
            ),
            "void-credit-note": lambda: org.void_credit_note(data["credit_note"]),
        }
        if action not in actions:
            return _json({"error": f"unknown action {action}"}, 404)
        try:
            return _json(actions[action]())
        except (KeyError, ValueError) as error:
            return _json({"error": f"{type(error).__name__}: {error}"}, 400)

    async def _fault(self, request: Request) -> Response:
        data = json.loads(await request.body() or b"{}")
        self.inject(
            str(data["kind"]),
            str(data.get("path", "/api.xro/")),
            int(data.get("times", 1)),
            int(data.get("retry_after", 2)),
        )
        return _json({"queued": data["kind"]})

    async def _intent(self, request: Request) -> Response:
        assert self.sender is not None
        passed = await asyncio.to_thread(self.sender.intent_to_receive)
        return _json({"passed": passed})

    def app(self) -> Starlette:
        """The ASGI application."""
        api = "/api.xro/2.0/{collection}"
        return Starlette(
            routes=[
                Route("/identity/connect/authorize", self._authorize),
                Route("/connect/token", self._token, methods=["POST"]),
                Route("/connect/revocation", self._revocation, methods=["POST"]),
                Route("/connections", self._connections),
                Route("/connections/{connection_id}", self._connections, methods=["DELETE"]),
                Route(api, self._list),
                Route(api, self._create, methods=["PUT", "POST"]),
                Route(f"{api}/{{resource_id}}", self._one),
                Route(f"{api}/{{resource_id}}", self._credit_note, methods=["POST"]),
                Route(f"{api}/{{resource_id}}/Allocations", self._credit_note, methods=["PUT"]),
                Route(
                    f"{api}/{{resource_id}}/Allocations/{{allocation_id}}",
                    self._credit_note,
                    methods=["DELETE"],
                ),
                Route("/_emulator/faults", self._fault, methods=["POST"]),
                Route("/_emulator/intent-to-receive", self._intent, methods=["POST"]),
                Route("/_emulator/{tenant}/{action}", self._control, methods=["POST"]),
            ]
        )
