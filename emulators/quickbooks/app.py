"""The emulator's HTTP face: QuickBooks v3 reads, query, CDC, writes, reports, and OAuth.

python-quickbooks and intuit-oauth talk to it unchanged except for their base URLs (the
``api_url_v3`` attribute, and intuit-oauth's discovery document URL). Faults can be
queued to prove the connector recovers: 429, throttle code 3001, an XML throttle body,
401 (expired token) and 5010 (stale object on write).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connectors.quickbooks.schemas import qbo_json
from connectors.quickbooks.webhook import sign
from emulators.quickbooks.company import Change, EmulatedCompany, StaleObjectError
from emulators.quickbooks.limits import RequestLimit
from emulators.quickbooks.pdf import invoice_pdf
from emulators.quickbooks.query import where as compile_where
from emulators.quickbooks.reports import report

__all__ = ["Emulator", "Fault"]

CDC_CAP = 1000
_RETRY_S = (10, 20, 30, 300, 1200, 7200, 14400, 21600)  # then every 6 h, as Intuit does
_ENTITY_PATHS = {
    "customer": "Customer",
    "invoice": "Invoice",
    "payment": "Payment",
    "creditmemo": "CreditMemo",
    "journalentry": "JournalEntry",
    "account": "Account",
}


def _json(data: Any, status_code: int = 200) -> Response:
    return Response(qbo_json(data), status_code=status_code, media_type="application/json")


def _fault(code: str, message: str, detail: str = "", status: int = 400) -> Response:
    error = {"Message": message, "Detail": detail or message, "code": code, "element": ""}
    return _json({"Fault": {"Error": [error], "type": "ValidationFault"}}, status)


@dataclass
class Fault:
    """A failure to answer with, ``times`` times, on requests whose path contains ``path``."""

    kind: str  # "429", "3001", "xml", "401", "5010", "slow"
    path: str = "/v3/"
    times: int = 1


@dataclass
class Emulator:
    """Companies, the app's OAuth credentials, tokens, queued faults, and webhooks out."""

    cdc_cap: int = CDC_CAP

    client_id: str = "emulator-client"
    client_secret: str = "emulator-secret"  # noqa: S105 - a fixed test credential
    verifier_token: str = "emulator-verifier"  # noqa: S105 - a fixed test credential
    access_token_seconds: int = 3600
    companies: dict[str, EmulatedCompany] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_format: str = "cloudevents"
    retry_scale: float = 1.0  # tests shrink Intuit's retry delays (10 s, 20 s, 30 s, 5 min …)
    slow_seconds: float = 2.0  # how long a "slow" fault delays its answer
    latency_seconds: float = 0.0  # every API answer waits this long (a real platform's)
    limit: RequestLimit | None = None  # a request limit per realm (429 beyond it)
    base_url: str = "http://127.0.0.1:0"
    calls: list[str] = field(default_factory=list)
    _codes: dict[str, str] = field(default_factory=dict)
    _access: dict[str, tuple[str, float]] = field(default_factory=dict)
    _refresh: dict[str, str] = field(default_factory=dict)
    _outbox: queue.Queue[tuple[str, bytes] | None] = field(default_factory=queue.Queue)
    _sender: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    # ------------------------------------------------------------ set-up
    def company(self, realm_id: str, **options: Any) -> EmulatedCompany:
        """The company of ``realm_id``, created (and wired to webhooks) on first use."""
        if realm_id not in self.companies:
            company = EmulatedCompany(realm_id, **options)
            company.listeners.append(self._notify)
            self.companies[realm_id] = company
        return self.companies[realm_id]

    def inject(self, kind: str, path: str = "/v3/", times: int = 1) -> None:
        """Answer the next ``times`` matching requests with a fault."""
        self.faults.append(Fault(kind, path, times))

    # ------------------------------------------------------------ webhooks out
    def _notify(self, company: EmulatedCompany, change: Change) -> None:
        if not self.webhook_url:
            return
        body = self.webhook_body(company.realm_id, change)
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_loop, daemon=True)
            self._sender.start()
        self._outbox.put((self.webhook_url, body))

    def webhook_body(self, realm: str, change: Change) -> bytes:
        """The body Intuit would send for one change (in the configured format)."""
        stamp = change.at.isoformat().replace("+00:00", "Z")
        if self.webhook_format == "legacy":
            operation = {"voided": "Void", "merged": "Merge"}.get(
                change.operation, change.operation.removesuffix("d").capitalize()
            )
            entity: dict[str, Any] = {
                "name": change.entity,
                "id": change.entity_id,
                "operation": operation,
                "lastUpdated": stamp,
            }
            if change.deleted_id:
                entity["deletedId"] = change.deleted_id
            data: Any = {
                "eventNotifications": [
                    {"realmId": realm, "dataChangeEvent": {"entities": [entity]}}
                ]
            }
        else:
            data = [
                {
                    "specversion": "1.0",
                    "id": secrets.token_hex(16),
                    "source": "intuit.emulator",
                    "type": f"qbo.{change.entity.lower()}.{change.operation}.v1",
                    "datacontenttype": "application/json",
                    "time": stamp,
                    "intuitentityid": change.entity_id,
                    "intuitaccountid": realm,
                    "data": {"deletedId": change.deleted_id} if change.deleted_id else {},
                }
            ]
        return json.dumps(data).encode()

    def _send_loop(self) -> None:
        with httpx.Client(timeout=10) as client:
            while (item := self._outbox.get()) is not None:
                url, body = item
                headers = {
                    "intuit-signature": sign(body, self.verifier_token),
                    "content-type": "application/cloudevents-batch+json"
                    if body.startswith(b"[")
                    else "application/json",
                }
                for attempt in itertools.count():  # later events wait, as at Intuit
                    try:
                        if client.post(url, content=body, headers=headers).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    delay = _RETRY_S[min(attempt, len(_RETRY_S) - 1)] * self.retry_scale
                    if self._stopping.wait(delay):
                        break
                self._outbox.task_done()

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Wait until every webhook queued so far was delivered (or given up)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    # ------------------------------------------------------------ HTTP
    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path in path and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _authorised(self, request: Request, realm: str) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        held = self._access.get(token)
        return held is not None and held[0] == realm and held[1] > time.time()

    async def _guard(self, request: Request, realm: str) -> Response | None:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        if self.limit is not None and not self.limit.take(realm):
            return Response("Too Many Requests", status_code=429)
        fault = self._take_fault(request.url.path)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(self.slow_seconds)
            fault = None
        if fault is not None:
            if fault.kind == "429":
                return Response("Too Many Requests", status_code=429)
            if fault.kind == "3001":
                return _fault("3001", "message=ThrottleExceeded; errorCode=003001", status=429)
            if fault.kind == "xml":
                xml = (
                    '<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE">'
                    '<Error code="3001"><Message>ThrottleExceeded</Message></Error>'
                    "</Fault></IntuitResponse>"
                )
                return Response(xml, status_code=429, media_type="application/xml")
            if fault.kind == "401":
                return Response("Unauthorized", status_code=401)
            if fault.kind == "5010":
                return _fault(
                    "5010",
                    "Stale Object Error",
                    "Stale Object Error : You and API API were working on this at the same time.",
                )
        if not self._authorised(request, realm):
            return Response("Unauthorized", status_code=401)
        if realm not in self.companies:
            return _fault("100", "Company not found")
        return None

    async def _read(self, request: Request) -> Response:
        realm, path, entity_id = (
            request.path_params["realm"],
            request.path_params["entity"],
            request.path_params["entity_id"],
        )
        if refused := await self._guard(request, realm):
            return refused
        if path.lower() == "companyinfo" and entity_id == realm:
            info = {"Id": realm, "CompanyName": self.companies[realm].name, "SyncToken": "0"}
            return _json({"CompanyInfo": info, "time": datetime.now(UTC).isoformat()})
        entity = _ENTITY_PATHS.get(path.lower())
        found = self.companies[realm].get(entity, entity_id) if entity else None
        if entity is None or found is None:
            return _fault(
                "610", "Object Not Found", f"Object Not Found : {path} {entity_id} not found"
            )
        return _json({entity: found, "time": datetime.now(UTC).isoformat()})

    async def _invoice_pdf(self, request: Request) -> Response:
        realm, entity_id = request.path_params["realm"], request.path_params["entity_id"]
        if refused := await self._guard(request, realm):
            return refused
        pdf = invoice_pdf(self.companies[realm], entity_id)
        if pdf is None:
            return _fault("610", "Object Not Found", f"Object Not Found : Invoice {entity_id}")
        return Response(pdf, media_type="application/pdf")

    async def _query(self, request: Request) -> Response:
        realm = request.path_params["realm"]
        if refused := await self._guard(request, realm):
            return refused
        text = (await request.body()).decode().strip()
        match = re.fullmatch(
            r"select \* from (\w+)(?: where (.*?))?(?: startposition (\d+))?(?: maxresults (\d+))?",
            text,
            flags=re.IGNORECASE | re.DOTALL,
        )
        if not match:
            return _fault("4000", "QueryParserError", f"cannot parse {text!r}")
        entity = next((e for e in _ENTITY_PATHS.values() if e.lower() == match[1].lower()), None)
        if entity is None:
            return _fault("4000", "QueryParserError", f"unknown entity {match[1]}")
        start, most = int(match[3] or 1), int(match[4] or 100)
        where = match[2]
        page = self.companies[realm].page(entity, compile_where(where), start, most)
        response: dict[str, Any] = {"startPosition": start, "maxResults": len(page)}
        if page:
            response[entity] = page
        return _json({"QueryResponse": response, "time": datetime.now(UTC).isoformat()})

    async def _cdc(self, request: Request) -> Response:
        realm = request.path_params["realm"]
        if refused := await self._guard(request, realm):
            return refused
        entities = [e.strip() for e in request.query_params.get("entities", "").split(",") if e]
        since_text = request.query_params.get("changedSince", "")
        try:
            since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        except ValueError:
            return _fault("4000", "Invalid changedSince", since_text)
        if since.tzinfo is None:
            return _fault("4000", "changedSince needs a UTC offset", since_text)
        if since < datetime.now(UTC) - timedelta(days=30):
            return _fault("4000", "changedSince is more than 30 days ago", since_text)
        rows = self.companies[realm].changed_since(entities, since)[: self.cdc_cap]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(row.pop("__entity"), []).append(row)
        responses = [
            {name: items, "startPosition": 1, "maxResults": len(items)}
            for name, items in grouped.items()
        ] or [{}]
        return _json(
            {"CDCResponse": [{"QueryResponse": responses}], "time": datetime.now(UTC).isoformat()}
        )

    async def _create(self, request: Request) -> Response:
        realm, path = request.path_params["realm"], request.path_params["entity"]
        if refused := await self._guard(request, realm):
            return refused
        entity = _ENTITY_PATHS.get(path.lower())
        if entity not in ("JournalEntry", "Payment"):
            return _fault(
                "500",
                "Unsupported operation",
                f"the emulator writes journal entries and payments only, not {path}",
            )
        body = json.loads(await request.body(), parse_float=Decimal)
        company = self.companies[realm]
        try:
            if entity == "Payment":
                saved = company.save_payment(body)
            else:
                saved = company.create_journal_entry(body)
        except StaleObjectError:
            return _fault(
                "5010",
                "Stale Object Error",
                "Stale Object Error : You and API API were working on this at the same time.",
            )
        except (ValueError, KeyError, TypeError) as error:
            return _fault("6000", "A business validation error has occurred", str(error))
        return _json({entity: saved, "time": datetime.now(UTC).isoformat()})

    async def _report(self, request: Request) -> Response:
        realm, name = request.path_params["realm"], request.path_params["report"]
        if refused := await self._guard(request, realm):
            return refused
        try:
            found = report(self.companies[realm], name, dict(request.query_params))
        except KeyError:
            return _fault("400", "Unsupported report", f"the emulator has no report {name}")
        except ValueError as error:
            return _fault("4000", "Invalid report parameter", str(error))
        return _json(found)

    # ------------------------------------------------------------ OAuth
    async def _discovery(self, request: Request) -> Response:
        base = self.base_url
        return _json(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "token_endpoint": f"{base}/oauth2/tokens/bearer",
                "revocation_endpoint": f"{base}/oauth2/revoke",
                "userinfo_endpoint": f"{base}/oauth2/userinfo",
                "jwks_uri": f"{base}/oauth2/keys",
            }
        )

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != self.client_id:
            return Response("unknown client_id", status_code=400)
        realm = params.get("realm") or next(iter(self.companies), "")
        code = secrets.token_urlsafe(16)
        self._codes[code] = realm
        query = urlencode({"code": code, "state": params.get("state", ""), "realmId": realm})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    def _client_ok(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    def _issue(self, realm: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._access[access] = (realm, time.time() + self.access_token_seconds)
        self._refresh[refresh] = realm
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.access_token_seconds,
            "x_refresh_token_expires_in": 8_726_400,
        }

    async def _token(self, request: Request) -> Response:
        if not self._client_ok(request):
            return _json({"error": "invalid_client"}, 401)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            realm = self._codes.pop(str(form.get("code", "")), None)
            if realm is None:
                return _json({"error": "invalid_grant"}, 400)
            return _json(self._issue(realm))
        if grant == "refresh_token":
            realm = self._refresh.pop(str(form.get("refresh_token", "")), None)
            if realm is None:  # used already (rotated) or revoked
                return _json({"error": "invalid_grant"}, 400)
            return _json(self._issue(realm))
        return _json({"error": "unsupported_grant_type"}, 400)

    async def _revoke(self, request: Request) -> Response:
        if not self._client_ok(request):
            return _json({"error": "invalid_client"}, 401)
        token = str(json.loads(await request.body() or b"{}").get("token", ""))
        realm = self._refresh.pop(token, None) or (self._access.pop(token, ("", 0.0))[0])
        if realm:
            for access, (owner, _) in list(self._access.items()):
                if owner == realm:
                    del self._access[access]
        return Response(status_code=200)

    def expire_access_tokens(self) -> None:
        """Make every access token stale (as an hour passing would)."""
        self._access = {t: (realm, 0.0) for t, (realm, _) in self._access.items()}

    def revoke(self, realm_id: str) -> None:
        """Revoke a company's tokens, as disconnecting the app in QuickBooks would: calls
        answer 401 and refreshing answers ``invalid_grant`` until it is connected again."""
        self._refresh = {t: r for t, r in self._refresh.items() if r != realm_id}
        self._access = {t: v for t, v in self._access.items() if v[0] != realm_id}

    # ------------------------------------------------------------ control (not QuickBooks)
    async def _control(self, request: Request) -> Response:
        """Change data over HTTP when the emulator runs on its own (``forwardflow emulator``)."""
        company = self.companies.get(request.path_params["realm"])
        if company is None:
            return _json({"error": "unknown realm"}, 404)
        action = request.path_params["action"]
        data = json.loads(await request.body() or b"{}", parse_float=Decimal)
        try:
            if action == "payment":
                made = company.post_payment(
                    data["customer"], date.fromisoformat(data["date"]), data["applies"]
                )
            elif action == "invoice":
                made = company.add_invoice(
                    data["customer"], str(data["amount"]), date.fromisoformat(data["date"])
                )
            elif action == "void-invoice":
                made = company.void_invoice(data["invoice"])
            elif action == "void-payment":
                made = company.void_payment(data["payment"])
            elif action == "delete-payment":
                made = company.delete_payment(data["payment"])
            elif action == "merge-customers":
                made = company.merge_customers(data["merged"], data["into"])
            else:
                return _json({"error": f"unknown action {action}"}, 404)
        except (KeyError, ValueError) as error:
            return _json({"error": f"{type(error).__name__}: {error}"}, 400)
        return _json(made)

    def stop_webhooks(self) -> None:
        """Stop retrying webhooks (the sender thread ends)."""
        self._stopping.set()
        self._outbox.put(None)

    def app(self) -> Starlette:
        """The ASGI application."""
        api = "/v3/company/{realm}"
        return Starlette(
            routes=[
                Route("/.well-known/openid_configuration", self._discovery),
                Route("/.well-known/openid_sandbox_configuration", self._discovery),
                Route("/oauth2/authorize", self._authorize),
                Route("/oauth2/tokens/bearer", self._token, methods=["POST"]),
                Route("/oauth2/revoke", self._revoke, methods=["POST"]),
                Route(f"{api}/query", self._query, methods=["POST", "GET"]),
                Route(f"{api}/cdc", self._cdc),
                Route(f"{api}/reports/{{report}}", self._report),
                Route(f"{api}/invoice/{{entity_id}}/pdf", self._invoice_pdf),
                Route(f"{api}/{{entity}}/{{entity_id}}", self._read),
                Route(f"{api}/{{entity}}", self._create, methods=["POST"]),
                Route("/_emulator/{realm}/{action}", self._control, methods=["POST"]),
            ]
        )
