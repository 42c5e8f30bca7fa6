"""The main job end to end on embedded defaults, as ``make demo`` runs it.

Everything is real except the firm and the buyer: a platform's emulator (QuickBooks
Online by default, Xero with ``--platform xero``; see ``demo.firms``) holds three years
of a firm's books; forwardflow runs as its service (embedded NATS
JetStream, SQLite, its HTTP app), connects the company through OAuth, backfills it,
values the receivables, cuts a sale under the sample agreement, takes last-minute
payments in through signed webhooks, closes, delivers the encrypted file to a loopback
SFTP buyer, answers the buyer's put-back file, refunds, and posts every journal entry
back to the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from debtsale.agreement import PutbackReason
from debtsale.commands import ClosePortfolio, CutPortfolio, DecidePutback, FlagReceivable
from debtsale.lifecycle import ExclusionReason
from debtsale.portfolio import Portfolio
from debtsale.putback import PutbackStatus
from debtsale.valuation import value_receivables
from demo.buyer import agreement_with_delivery, buyer_key
from demo.firms import FIRMS, DemoFirm, QuickBooksFirm
from demo.outputs import write_outputs
from demo.result import DemoError, DemoResult, prepare_workdir
from emulators.sftp_buyer import LoopbackSftp
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.bus import Bus
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.subscribers import ledger_backlog
from forwardflow.buyer_files import send_buyer_files
from forwardflow.companies import backfill_company
from forwardflow.inbound import process_buyer_inbox
from forwardflow.keystore import sealed_key
from forwardflow.logs import JsonFormatter
from forwardflow.net import free_port
from forwardflow.service import Role, serve
from forwardflow.settings import (
    DeliverySettings,
    HttpSettings,
    ScheduleSettings,
    load_settings,
)
from forwardflow.status import broker_status, store_status
from forwardflow.store import upgrade
from forwardflow.store.tables import platform_postings
from forwardflow.wired import WiredPlatform
from handlers.registry import handle_command
from sftp.keys import new_ssh_key, public_line
from testkit.quickbooks import connect_in_browser

__all__ = ["CLOSING", "CUTOFF", "DemoError", "DemoResult", "prepare_workdir", "run_demo"]

SUMMARY = "demo-summary.json"
CUTOFF = date(2026, 10, 31)
CLOSING = date(2026, 11, 13)
PORTFOLIO = "P-2026-10"
PORTFOLIO_AGREEMENT = "acme-spot-2026"

Progress = Callable[[str, int, int], None]


async def _until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` (run off the loop) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (found := await asyncio.to_thread(check)):
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return found


def _portfolio(app: Forwardflow) -> Portfolio:
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(PORTFOLIO)
    if portfolio is None:
        raise DemoError(f"portfolio {PORTFOLIO} is missing")
    return portfolio


class _Demo:
    """The demo's moving parts and its steps, in order."""

    def __init__(
        self, workdir: Path, step: Callable[[str], None], progress: Progress, firm: DemoFirm
    ) -> None:
        self.workdir = workdir
        self.firm = firm
        self.result = DemoResult(workdir=workdir.resolve())
        self._step = step
        self.progress = progress

    def done(self, message: str) -> None:
        self.result.steps.append(message)
        self._step(message)

    async def drained(self, app: Forwardflow, label: str) -> None:
        async with connect_broker(app.settings) as connection:
            started = None
            while True:
                busy = await ledger_backlog(connection.broker, app.topology)
                started = started or busy
                self.progress(label, max(0, (started or 1) - busy), started or 1)
                if busy == 0:
                    return
                await asyncio.sleep(0.2)

    async def run(self) -> DemoResult:
        data = self.workdir / "data"
        firm = self.firm
        self.done(await asyncio.to_thread(firm.seed, CUTOFF))
        buyer_dir = self.workdir / "buyer"
        buyer_dir.mkdir()
        (data / "buyers").mkdir(parents=True)
        how = await asyncio.to_thread(
            buyer_key, buyer_dir / "buyer-secret-key.asc", data / "buyers" / "acme.asc"
        )
        self.done(f"the buyer's OpenPGP key made with {how}")
        ssh_public = public_line(  # made and sealed at rest, as a delivery would
            sealed_key(
                load_settings(data_dir=data), data / "keys" / "ssh_ed25519", "ssh", new_ssh_key
            )
        )
        port = free_port()
        with (
            firm.serve(),
            LoopbackSftp(self.workdir / "buyer" / "sftp", "acme", ssh_public) as sftp,
        ):
            for folder in ("incoming", "putbacks"):
                (sftp.root / folder).mkdir()
            self.done(f"loopback SFTP buyer at 127.0.0.1:{sftp.port} (host key pinned)")
            platform_section: dict[str, Any] = {firm.platform: firm.settings(port)}
            settings = load_settings(
                data_dir=data,
                http=HttpSettings(port=port),
                schedule=ScheduleSettings(interval_seconds=0),
                # the demo reads the buyer's inbox once, when the buyer has filed; polling
                # would spend the CPU on SSH handshakes with the in-process buyer
                delivery=DeliverySettings(inbox_poll_seconds=0),
                **platform_section,
            )
            app = bootstrap(settings)
            try:
                await self._with_service(app, sftp)
            finally:
                app.close()
        return self.result

    async def _with_service(self, app: Forwardflow, sftp: LoopbackSftp) -> None:
        upgrade(app.engine)
        self.result.store = store_status(app)
        self.done(
            f"state store ready: {self.result.store.backend}, schema {self.result.store.revision}"
        )
        stop = asyncio.Event()
        service = asyncio.create_task(serve(app, Role.ALL, stop))
        base = f"http://127.0.0.1:{app.settings.http.port}"
        try:
            async with httpx.AsyncClient() as client:

                async def ready() -> bool:
                    try:
                        return (await client.get(f"{base}/readyz")).status_code == 200
                    except httpx.HTTPError:
                        return False

                await _poll_async("the service", ready, service)
            async with connect_broker(app.settings) as connection:
                pid = connection.embedded.pid if connection.embedded else None
                self.done(f"embedded NATS JetStream started at {connection.url}; service on {base}")
                self.firm.send_webhooks_to(f"{base}/webhooks/{self.firm.platform}")
                await self._steps(app, sftp, connection.broker)
                self.result.broker = await broker_status(connection)
        finally:
            stop.set()
            await service
        self.result.broker_pid_stopped = pid is None or not Path(f"/proc/{pid}").exists()
        self.done(
            "service and embedded broker stopped"
            + ("" if self.result.broker_pid_stopped else " (STILL RUNNING)")
        )

    async def _steps(self, app: Forwardflow, sftp: LoopbackSftp, broker: Any) -> None:
        """The story, one step after the other, as a firm, its platform and its buyer live it."""
        firm = self.firm
        wired = app.platform(firm.platform, Bus(broker, app.topology))
        tenant = wired.platform.tenant_of(firm.company_id)
        await self._connect(app)
        await self._backfill(app, wired)
        self._flag(app, tenant)
        agreement_id = self._value(app, tenant, sftp)
        portfolio = self._cut(app, tenant, agreement_id)
        late = await self._last_minute_payments(app, tenant, portfolio)
        encrypted, manifest = await self._close_and_deliver(app, sftp)
        portfolio = await self._putback(app, sftp, late)
        entries = await self._journal(app)
        closed, applications = firm.closed_in_books(portfolio)
        self.done(
            f"{closed:,} sold invoices closed in {firm.title} by {applications} "
            "applications of the sale entry; its aging lists none of them"
        )
        write_outputs(self.result, portfolio, entries, encrypted, manifest)
        self.result.figures.update(
            platform=firm.platform,
            invoices_closed_in_books=closed,
            **{f"invoices_closed_in_{firm.platform}": closed},
        )

    async def _connect(self, app: Forwardflow) -> None:
        # `forwardflow <platform> connect`, followed in a browser
        connected = await connect_in_browser(app, platform=self.firm.platform)
        if connected.status_code != 200:
            raise DemoError(f"connecting the company failed: {connected.text}")
        self.done(f"company {self.firm.company_id} connected through OAuth (tokens sealed at rest)")

    async def _backfill(self, app: Forwardflow, wired: WiredPlatform) -> None:
        counted = {"n": 0}

        def backfilled(count: int, entity: str) -> None:
            counted["n"] += count
            self.progress(f"backfilling from {self.firm.title}", counted["n"], counted["n"])

        published = await backfill_company(wired, self.firm.company_id, backfilled)
        await self.drained(app, "applying the backfill")
        self.done(f"backfill: {published:,} ledger changes published and applied exactly once")

    def _flag(self, app: Forwardflow, tenant: str) -> None:
        firm = self.firm
        flags = [(i, ExclusionReason.ACTIVE_DISPUTE, date(2026, 9, 1)) for i in firm.disputed]
        flags += [(i, ExclusionReason.BANKRUPTCY, date(2026, 8, 1)) for i in firm.bankrupt]
        for invoice, reason, since in flags:
            handle_command(
                app.unit_of_work(),
                FlagReceivable(
                    command_id=f"demo:{reason.value.split('_')[-1]}:{invoice}",
                    tenant=tenant,
                    receivable_id=invoice,
                    reason=reason,
                    since=since,
                ),
            )
        self.done(f"{len(firm.disputed)} disputes and {len(firm.bankrupt)} bankruptcies flagged")

    def _value(self, app: Forwardflow, tenant: str, sftp: LoopbackSftp) -> str:
        with app.unit_of_work() as uow:
            certificate = app.settings.data_dir / "buyers" / "acme.asc"
            agreement = uow.agreements.add(agreement_with_delivery(sftp, certificate))
            uow.commit()
            ledger = uow.ledger.load(tenant)
        self.result.valuation = value_receivables(ledger, agreement, CUTOFF)
        self.done(
            f"valued {self.result.valuation.count:,} eligible receivables under {agreement.id}"
        )
        return agreement.id

    def _cut(self, app: Forwardflow, tenant: str, agreement_id: str) -> Portfolio:
        handle_command(
            app.unit_of_work(),
            CutPortfolio(
                command_id="demo:cut",
                tenant=tenant,
                portfolio_id=PORTFOLIO,
                agreement_id=agreement_id,
                cutoff=CUTOFF,
            ),
        )
        portfolio = _portfolio(app)
        self.done(
            f"cut {PORTFOLIO}: {len(portfolio.lines):,} receivables, face "
            f"{portfolio.total_face_at_cutoff.amount:,}, "
            f"price {portfolio.total_price_at_cutoff.amount:,} USD"
        )
        return portfolio

    async def _last_minute_payments(
        self, app: Forwardflow, tenant: str, portfolio: Portfolio
    ) -> list[str]:
        late = sorted(portfolio.lines)[:5]
        payments = []
        for number, invoice in enumerate(late):
            line = portfolio.lines[invoice]
            amount = (
                line.face_at_cutoff.amount
                if number % 2 == 0
                else (line.face_at_cutoff.amount * 3 / 10).quantize(line.face_at_cutoff.amount)
            )
            payments.append(self.firm.pay(line.customer_id, date(2026, 11, 6), {invoice: amount}))

        def arrived() -> bool:
            with app.unit_of_work() as uow:
                held = uow.ledger.load(tenant)
            return all(held.payment_invoices(p) for p in payments)

        await _until("the last-minute payments", arrived)
        await self.drained(app, "applying webhooks")
        self.done(f"{len(payments)} last-minute payments came in through signed webhooks")
        return late

    async def _close_and_deliver(self, app: Forwardflow, sftp: LoopbackSftp) -> tuple[Path, Path]:
        handle_command(
            app.unit_of_work(),
            ClosePortfolio(command_id="demo:close", portfolio_id=PORTFOLIO, closing=CLOSING),
        )

        def delivered() -> dict[str, Any] | None:
            with app.unit_of_work() as uow:
                receipt = uow.deliveries.get(PORTFOLIO)
            return receipt if receipt and receipt["status"] == "delivered" else None

        # the buyer gets each sold invoice's PDF from the platform: one call each
        receipt = await _until("the delivery to the buyer", delivered, 300)
        remote = {
            Path(f["remote_path"]).name: sftp.root / f["remote_path"] for f in receipt["files"]
        }
        encrypted = next(p for n, p in remote.items() if n.endswith(".csv.pgp"))
        manifest = next(p for n, p in remote.items() if n.endswith(".manifest.json"))
        self.done(
            f"closed {PORTFOLIO}; sale file encrypted, signed and delivered over SFTP "
            f"({encrypted.name})"
        )
        return encrypted, manifest

    async def _putback(self, app: Forwardflow, sftp: LoopbackSftp, late: list[str]) -> Portfolio:
        portfolio = _portfolio(app)
        returned = next(
            rid for rid in sorted(portfolio.lines) if portfolio.lines[rid].sold and rid not in late
        )
        (sftp.root / "putbacks" / "req-0001.csv").write_text(
            "portfolio_id,receivable_id,reason,evidence_reference,request_date,fact_date\r\n"
            f"{PORTFOLIO},{returned},{PutbackReason.BANKRUPTCY.value},24-B-1001,2026-11-20,2026-11-01\r\n"
        )
        answered = await asyncio.to_thread(process_buyer_inbox, app, PORTFOLIO_AGREEMENT)
        if not answered or not (sftp.root / "results" / "req-0001.csv.result.csv").exists():
            raise DemoError("the buyer's put-back file was not answered")
        request_id = next(r["request_id"] for r in answered[0].rows if r.get("request_id"))
        handle_command(
            app.unit_of_work(),
            DecidePutback(
                command_id="demo:decide",
                portfolio_id=PORTFOLIO,
                request_id=request_id,
                accept=True,
                decided_on=date(2026, 11, 21),
            ),
        )
        portfolio = _portfolio(app)
        decision = portfolio.putbacks[request_id].decision
        if decision.status is not PutbackStatus.ACCEPTED:
            raise DemoError(f"the put-back was not accepted: {decision.rule} {decision.detail}")
        told = await asyncio.to_thread(send_buyer_files, app, PORTFOLIO_AGREEMENT)
        self.done(
            "buyer's put-back file answered; refund "
            f"{decision.refund.amount if decision.refund else 0} USD accepted; the buyer told "
            f"in {', '.join(n for n in told.files if n.endswith('.csv'))}"
        )
        return portfolio

    async def _journal(self, app: Forwardflow) -> Any:
        expected = 2  # the sale entry and the refund
        title = self.firm.title
        entries = await _until(
            f"the journal entries in {title}",
            lambda: (e := self.firm.journal_entries()) and len(e) >= expected and e,
        )
        self.done(f"{len(entries)} journal entries posted to {title} (each once)")
        await _until(f"the sold invoices closed in {title}", lambda: _applied(app), 300)
        return entries


def _applied(app: Forwardflow) -> bool:
    """Every posted journal entry applied to its invoices (or nothing left to apply)."""
    with app.unit_of_work() as uow:
        waiting = uow.connection.execute(
            select(platform_postings.c.entry_id).where(platform_postings.c.state == "posted")
        ).first()
        posted = uow.connection.execute(select(platform_postings.c.entry_id)).first()
    return posted is not None and waiting is None


async def _poll_async(
    what: str, check: Callable[[], Awaitable[bool]], service: asyncio.Task[None]
) -> None:
    deadline = time.monotonic() + 60
    while not await check():
        if service.done():
            service.result()  # raises the service's error
            raise DemoError("the service stopped")
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def run_demo(
    workdir: Path,
    step: Callable[[str], None] = lambda _: None,
    progress: Progress = lambda _label, _done, _total: None,
    platform: str = QuickBooksFirm.platform,
) -> DemoResult:
    """Run the demo in ``workdir`` on ``platform``'s emulator; ``step`` hears each milestone."""
    if platform not in FIRMS:
        raise DemoError(f"no demo firm on {platform!r}; one of: {', '.join(FIRMS)}")
    prepare_workdir(workdir)
    log_file = workdir / "forwardflow.log"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("paramiko", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        demo = _Demo(workdir, step, progress, FIRMS[platform]())
        result = await demo.run()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
    result.files["log"] = str(log_file.resolve())
    summary = workdir / SUMMARY
    result.files["summary"] = str(summary.resolve())
    summary.write_text(json.dumps(result.summary(), indent=2, default=str))
    return result
