"""The main job end to end on embedded defaults, as ``make demo`` runs it.

Everything is real except the firm and the buyer: the QuickBooks Online emulator holds
three years of a firm's books; forwardflow runs as its service (embedded NATS
JetStream, SQLite, its HTTP app), connects the company through OAuth, backfills it,
values the receivables, cuts a sale under the sample agreement, takes last-minute
payments in through signed webhooks, closes, delivers the encrypted file to a loopback
SFTP buyer, answers the buyer's put-back file, refunds, and posts every journal entry
back to the emulator.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from pysequoia import Profile, Tsk
from sqlalchemy import select

from connectors.quickbooks.emulator.app import Emulator
from connectors.quickbooks.emulator.books import open_items
from connectors.quickbooks.emulator.company import EmulatedCompany
from connectors.quickbooks.emulator.server import EmulatorServer
from connectors.quickbooks.fetch import tenant_of
from connectors.quickbooks.writeback import is_forwardflow_number
from debtsale.agreement import PutbackReason, sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio, DecidePutback, FlagReceivable
from debtsale.lifecycle import ExclusionReason
from debtsale.portfolio import Portfolio
from debtsale.putback import PutbackStatus
from debtsale.reports import ReconciliationReport, as_data
from debtsale.valuation import ValuationReport, value_receivables
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.broker.runtime import connect_broker
from forwardflow.broker.subscribers import ledger_backlog
from forwardflow.buyer_files import send_buyer_files
from forwardflow.demo_documents import EmulatedInvoicePdfs
from forwardflow.demo_firm import seed_emulated_firm
from forwardflow.inbound import process_buyer_inbox
from forwardflow.keystore import sealed_key
from forwardflow.logs import JsonFormatter
from forwardflow.net import free_port
from forwardflow.quickbooks import backfill_company
from forwardflow.service import Role, serve
from forwardflow.settings import (
    DeliverySettings,
    HttpSettings,
    QuickBooksSettings,
    ScheduleSettings,
    load_settings,
)
from forwardflow.status import BrokerStatus, StoreStatus, broker_status, store_status
from forwardflow.store import upgrade
from forwardflow.store.tables import platform_postings
from forwardflow.testing.quickbooks import connect_in_browser
from handlers.registry import handle_command
from sftp.keys import new_ssh_key, public_line
from sftp.loopback import LoopbackSftp
from sftp.openpgp import message_format

__all__ = ["CLOSING", "CUTOFF", "DemoError", "DemoResult", "prepare_workdir", "run_demo"]

MARKER = ".forwardflow-demo"
SUMMARY = "demo-summary.json"
CUTOFF = date(2026, 10, 31)
CLOSING = date(2026, 11, 13)
REALM = "4620816365"
PORTFOLIO = "P-2026-10"
PORTFOLIO_AGREEMENT = "acme-spot-2026"

Progress = Callable[[str, int, int], None]


class DemoError(RuntimeError):
    """The demo cannot run in the given place, or a check it makes failed."""


@dataclass
class DemoResult:
    """What the demo started, produced and checked."""

    workdir: Path
    store: StoreStatus | None = None
    broker: BrokerStatus | None = None
    valuation: ValuationReport | None = None
    reconciliation: ReconciliationReport | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    broker_pid_stopped: bool = False
    steps: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON summary written to ``demo-summary.json``."""
        return {
            "workdir": str(self.workdir),
            "files": self.files,
            "figures": self.figures,
            "store": asdict(self.store) if self.store else None,
            "broker": asdict(self.broker) if self.broker else None,
            "embedded_broker_stopped": self.broker_pid_stopped,
            "steps": self.steps,
        }


def prepare_workdir(workdir: Path) -> None:
    """Create the work directory, clearing a previous demo's; refuse to clear anything else."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise DemoError(
                f"{workdir} is not empty and was not made by the demo; choose another --workdir"
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("made by forwardflow demo; cleared on the next run\n")


async def _until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` (run off the loop) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (found := await asyncio.to_thread(check)):
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return found


def _agreement(sftp: LoopbackSftp, certificate: Path) -> str:
    # a Sequoia-made buyer key (no gpg here) gets RFC 9580 files, which gpg 2.2/2.4 refuse
    reads = "rfc4880" if message_format(certificate) == "SEIPD v1" else "rfc9580"
    return (
        sample_agreement_text()
        + "\n[delivery]\n"
        + 'host = "127.0.0.1"\n'
        + f"port = {sftp.port}\n"
        + 'username = "acme"\n'
        + f'host_key = "{sftp.pin}"\n'
        + 'buyer_certificate = "buyers/acme.asc"\n'
        + f'openpgp = "{reads}"\n'
        # the buyer gets each sold invoice's PDF in an encrypted archive beside the file
        + "\n[file]\ndocuments = true\n"
        + 'required = ["address_line1", "city", "region", "postal_code", "country"]\n'
    )


_BUYER_UID = "Acme Recovery Partners <files@acme.example>"


def _buyer_key(secret: Path, certificate: Path) -> str:
    """The demo buyer's key pair, made as a buyer would: with gpg, when it is installed.

    Buyers read files with gpg 2.2/2.4, which know SEIPD v1 only. Sequoia encrypts with
    SEIPD v2 to a certificate that advertises it, and every key Sequoia generates does;
    a gpg-made key advertises v1 only. Without gpg the demo uses a Sequoia key, whose
    files open with Sequoia (``sq``) or gpg 2.5+ (see docs/decisions.md).
    """
    gpg = shutil.which("gpg")
    if gpg is None:
        key = Tsk.generate(_BUYER_UID, profile=Profile.RFC4880)
        secret.write_text(str(key), encoding="utf-8")
        certificate.write_text(str(key.extract_certificate()), encoding="utf-8")
        return "Sequoia (gpg is not installed)"
    home = secret.parent / ".gnupg"
    home.mkdir(mode=0o700)
    base = [gpg, "--homedir", str(home), "--batch", "--pinentry-mode", "loopback"]
    base += ["--passphrase", ""]
    subprocess.run(
        [*base, "--quick-generate-key", _BUYER_UID, "rsa3072", "sign,encr", "never"],
        check=True,
        capture_output=True,
    )
    exported = subprocess.run(
        [*base, "--armor", "--export-secret-keys", _BUYER_UID], check=True, capture_output=True
    )
    secret.write_bytes(exported.stdout)
    public = subprocess.run(
        [*base, "--armor", "--export", _BUYER_UID], check=True, capture_output=True
    )
    certificate.write_bytes(public.stdout)
    subprocess.run(
        [shutil.which("gpgconf") or "gpgconf", "--homedir", str(home), "--kill", "all"],
        check=False,
        capture_output=True,
    )
    return "gpg"


def _portfolio(app: Forwardflow) -> Portfolio:
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(PORTFOLIO)
    if portfolio is None:
        raise DemoError(f"portfolio {PORTFOLIO} is missing")
    return portfolio


class _Demo:
    """The demo's moving parts and its steps, in order."""

    def __init__(self, workdir: Path, step: Callable[[str], None], progress: Progress) -> None:
        self.workdir = workdir
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
        emulator = Emulator(retry_scale=0.05)
        company = emulator.company(REALM)
        firm = await asyncio.to_thread(seed_emulated_firm, company, CUTOFF)
        self.done(
            f"QuickBooks emulator seeded: {len(firm.customers):,} customers, "
            f"{len(company.entities['Invoice']):,} invoices over three years"
        )
        buyer_dir = self.workdir / "buyer"
        buyer_dir.mkdir()
        (data / "buyers").mkdir(parents=True)
        how = await asyncio.to_thread(
            _buyer_key, buyer_dir / "buyer-secret-key.asc", data / "buyers" / "acme.asc"
        )
        self.done(f"the buyer's OpenPGP key made with {how}")
        ssh_public = public_line(  # made and sealed at rest, as a delivery would
            sealed_key(
                load_settings(data_dir=data), data / "keys" / "ssh_ed25519", "ssh", new_ssh_key
            )
        )
        port = free_port()
        with (
            EmulatorServer(emulator) as qbo,
            LoopbackSftp(self.workdir / "buyer" / "sftp", "acme", ssh_public) as sftp,
        ):
            for folder in ("incoming", "putbacks"):
                (sftp.root / folder).mkdir()
            self.done(f"loopback SFTP buyer at 127.0.0.1:{sftp.port} (host key pinned)")
            settings = load_settings(
                data_dir=data,
                http=HttpSettings(port=port),
                schedule=ScheduleSettings(interval_seconds=0),
                # the demo reads the buyer's inbox once, when the buyer has filed; polling
                # would spend the CPU on SSH handshakes with the in-process buyer
                delivery=DeliverySettings(inbox_poll_seconds=0),
                quickbooks=QuickBooksSettings(
                    client_id=emulator.client_id,
                    client_secret=SecretStr(emulator.client_secret),
                    verifier_token=SecretStr(emulator.verifier_token),
                    redirect_uri=f"http://127.0.0.1:{port}/callback/quickbooks",
                    api_base_url=qbo.api_url_v3,
                    discovery_url=qbo.discovery_url,
                    catch_up_minutes=0,
                    # the emulator is not Intuit: no need to keep under 500 calls a minute
                    # while the sale's applications close 2,000 invoices
                    calls_per_minute=20_000,
                ),
            )
            app = bootstrap(settings)
            app.documents = EmulatedInvoicePdfs(company)
            try:
                await self._with_service(app, emulator, firm, sftp)
            finally:
                app.close()
        return self.result

    async def _with_service(
        self, app: Forwardflow, emulator: Emulator, firm: Any, sftp: LoopbackSftp
    ) -> None:
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
                emulator.webhook_url = f"{base}/webhooks/quickbooks"
                await self._steps(app, emulator, firm, sftp, base, connection.broker)
                self.result.broker = await broker_status(connection)
        finally:
            stop.set()
            await service
        self.result.broker_pid_stopped = pid is None or not Path(f"/proc/{pid}").exists()
        self.done(
            "service and embedded broker stopped"
            + ("" if self.result.broker_pid_stopped else " (STILL RUNNING)")
        )

    async def _steps(
        self,
        app: Forwardflow,
        emulator: Emulator,
        firm: Any,
        sftp: LoopbackSftp,
        base: str,
        broker: Any,
    ) -> None:
        connected = await connect_in_browser(app)  # `forwardflow quickbooks connect`
        if connected.status_code != 200:
            raise DemoError(f"connecting the company failed: {connected.text}")
        self.done(f"company {REALM} connected through OAuth (tokens sealed at rest)")

        counted = {"n": 0}

        def backfilled(count: int, entity: str) -> None:
            counted["n"] += count
            self.progress("backfilling from QuickBooks", counted["n"], counted["n"])

        published = await backfill_company(broker, app, REALM, backfilled)
        await self.drained(app, "applying the backfill")
        self.done(f"backfill: {published:,} ledger changes published and applied exactly once")

        tenant = tenant_of(REALM)
        for invoice in firm.disputed:
            handle_command(
                app.unit_of_work(),
                FlagReceivable(
                    command_id=f"demo:dispute:{invoice}",
                    tenant=tenant,
                    receivable_id=invoice,
                    reason=ExclusionReason.ACTIVE_DISPUTE,
                    since=date(2026, 9, 1),
                ),
            )
        for invoice in firm.bankrupt:
            handle_command(
                app.unit_of_work(),
                FlagReceivable(
                    command_id=f"demo:bankruptcy:{invoice}",
                    tenant=tenant,
                    receivable_id=invoice,
                    reason=ExclusionReason.BANKRUPTCY,
                    since=date(2026, 8, 1),
                ),
            )
        self.done(f"{len(firm.disputed)} disputes and {len(firm.bankrupt)} bankruptcies flagged")

        with app.unit_of_work() as uow:
            certificate = app.settings.data_dir / "buyers" / "acme.asc"
            agreement = uow.agreements.add(_agreement(sftp, certificate))
            uow.commit()
            ledger = uow.ledger.load(tenant)
        self.result.valuation = value_receivables(ledger, agreement, CUTOFF)
        self.done(
            f"valued {self.result.valuation.count:,} eligible receivables under {agreement.id}"
        )

        handle_command(
            app.unit_of_work(),
            CutPortfolio(
                command_id="demo:cut",
                tenant=tenant,
                portfolio_id=PORTFOLIO,
                agreement_id=agreement.id,
                cutoff=CUTOFF,
            ),
        )
        portfolio = _portfolio(app)
        self.done(
            f"cut {PORTFOLIO}: {len(portfolio.lines):,} receivables, face "
            f"{portfolio.total_face_at_cutoff.amount:,}, "
            f"price {portfolio.total_price_at_cutoff.amount:,} USD"
        )

        company = emulator.company(REALM)
        late = sorted(portfolio.lines)[:5]
        payments = []
        for number, invoice in enumerate(late):
            line = portfolio.lines[invoice]
            amount = (
                line.face_at_cutoff.amount
                if number % 2 == 0
                else (line.face_at_cutoff.amount * 3 / 10).quantize(line.face_at_cutoff.amount)
            )
            payments.append(
                company.post_payment(line.customer_id, date(2026, 11, 6), {invoice: amount})["Id"]
            )

        def arrived() -> bool:
            with app.unit_of_work() as uow:
                held = uow.ledger.load(tenant)
            return all(held.payment_invoices(p) for p in payments)

        await _until("the last-minute payments", arrived)
        await self.drained(app, "applying webhooks")
        self.done(f"{len(payments)} last-minute payments came in through signed webhooks")

        handle_command(
            app.unit_of_work(),
            ClosePortfolio(command_id="demo:close", portfolio_id=PORTFOLIO, closing=CLOSING),
        )

        def delivered() -> dict[str, Any] | None:
            with app.unit_of_work() as uow:
                receipt = uow.deliveries.get(PORTFOLIO)
            return receipt if receipt and receipt["status"] == "delivered" else None

        receipt = await _until("the delivery to the buyer", delivered)
        remote = {
            Path(f["remote_path"]).name: sftp.root / f["remote_path"] for f in receipt["files"]
        }
        encrypted = next(p for n, p in remote.items() if n.endswith(".csv.pgp"))
        manifest = next(p for n, p in remote.items() if n.endswith(".manifest.json"))
        self.done(
            f"closed {PORTFOLIO}; sale file encrypted, signed and delivered over SFTP "
            f"({encrypted.name})"
        )

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

        expected = 2  # the sale entry and the refund
        entries = await _until(
            "the journal entries in QuickBooks",
            lambda: (e := company.all("JournalEntry")) and len(e) >= expected and e,
        )
        self.done(f"{len(entries)} journal entries posted to QuickBooks (each once)")
        await _until("the sold invoices closed in QuickBooks", lambda: _applied(app), 300)
        closed = self._books(company, portfolio)
        self._outputs(app, portfolio, entries, encrypted, manifest)
        self.result.figures["invoices_closed_in_quickbooks"] = closed

    def _books(self, company: EmulatedCompany, portfolio: Portfolio) -> int:
        """The firm's own books after the sale: the aging lists no sold invoice."""
        sold = {line.receivable_id for line in portfolio.sold_lines()}
        open_sold = {
            item.txn_id
            for item in open_items(company)
            if item.txn_type == "Invoice" and item.txn_id in sold
        }
        reinstated = {  # put back to be pursued again: open at the refund
            record.request.receivable_id
            for record in portfolio.putbacks.values()
            if record.decision.reinstated
        }
        if open_sold - reinstated:
            raise DemoError(f"{len(open_sold - reinstated)} sold invoices are still open")
        applications = sum(
            1 for p in company.all("Payment") if is_forwardflow_number(p.get("PaymentRefNum"))
        )
        closed = len(sold - reinstated)
        self.done(
            f"{closed:,} sold invoices closed in QuickBooks by {applications} zero-total "
            "payments applying the sale entry; its aging lists none of them"
        )
        return closed

    def _outputs(
        self,
        app: Forwardflow,
        portfolio: Portfolio,
        entries: list[dict[str, Any]],
        encrypted: Path,
        manifest: Path,
    ) -> None:
        reconciliation = ReconciliationReport.of(portfolio)
        self.result.reconciliation = reconciliation
        out = self.workdir / "out"
        out.mkdir(exist_ok=True)
        json_path = out / f"reconciliation-{portfolio.id}.json"
        json_path.write_text(json.dumps(as_data(reconciliation), indent=2))
        csv_path = out / f"reconciliation-{portfolio.id}.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(reconciliation.csv_rows())
        journal_path = out / "journal-entries-posted.json"
        journal_path.write_text(json.dumps(entries, indent=2, default=str))
        self.result.files.update(
            encrypted_sale_file=str(encrypted.resolve()),
            manifest=str(manifest.resolve()),
            delivered_folder=str(manifest.parent.resolve()),
            buyer_secret_key=str((self.workdir / "buyer" / "buyer-secret-key.asc").resolve()),
            seller_certificate=str((self.workdir / "data" / "keys" / "seller.asc").resolve()),
            reconciliation_json=str(json_path.resolve()),
            reconciliation_csv=str(csv_path.resolve()),
            journal_entries=str(journal_path.resolve()),
        )
        self.result.figures.update(
            receivables_sold=reconciliation.sold,
            receivables_removed=reconciliation.removed,
            total_face=str(portfolio.total_face.amount),
            total_price=str(portfolio.total_price.amount),
            refunds=str(portfolio.refunds.amount),
            loss_on_sale=str(portfolio.loss_on_sale.amount),
            currency=portfolio.currency,
        )


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
) -> DemoResult:
    """Run the demo in ``workdir``; ``step`` hears each milestone."""
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
        demo = _Demo(workdir, step, progress)
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
