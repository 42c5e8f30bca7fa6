"""The buyer's side of the loop over a real sshd and gpg: after a put-back is decided the
buyer gets a signed result file with the refund; a payment after the sale shows on the
next remittance statement, and its void reverses it on the one after."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from debtsale.agreement import PutbackReason, sample_agreement_text
from debtsale.commands import ClosePortfolio, CutPortfolio, DecidePutback, RequestPutback
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.buyer_files import send_buyer_files
from forwardflow.delivery import buyer_keys, delivery_terms
from forwardflow.settings import DatabaseSettings, load_settings
from forwardflow.store import upgrade
from handlers.ledger import apply_ledger_change
from handlers.registry import handle_command
from testkit.builders import LedgerBuilder
from testkit.buyer import spreadsheet_formulas
from testkit.gpg import BuyerGpg
from testkit.sshd import LoopbackSshd

pytestmark = [pytest.mark.sshd, pytest.mark.gpg]

AGREEMENT = "acme-spot-2026"


@pytest.fixture
def book() -> LedgerBuilder:
    book = LedgerBuilder(tenant="realm-1")
    for n in range(4):
        book.customer(f"C{n}")
        book.invoice(f"I{n}", f"C{n}", "1000.00", invoice_date=date(2025, 1, 2))
    return book


@pytest.fixture
def app(
    tmp_path: Path, sqlite_url: str, sshd: LoopbackSshd, book: LedgerBuilder
) -> Iterator[Forwardflow]:
    app = bootstrap(
        load_settings(data_dir=tmp_path / "data", database=DatabaseSettings(url=sqlite_url))
    )
    upgrade(app.engine)
    for change in book.changes:
        apply_ledger_change(app.unit_of_work(), "realm-1", change)
    delivery = (
        "\n[delivery]\n"
        'host = "127.0.0.1"\n'
        f"port = {sshd.port}\n"
        f'username = "{sshd.user}"\n'
        f'host_key = "{sshd.pin}"\n'
        'buyer_certificate = "acme.asc"\n'
    )
    with app.unit_of_work() as uow:
        text = sample_agreement_text().replace("cap_percent = 10", "cap_percent = 100")
        agreement = uow.agreements.add(text + delivery)
        uow.commit()
    for command in (
        CutPortfolio(
            command_id="cut",
            tenant="realm-1",
            portfolio_id="P1",
            agreement_id=AGREEMENT,
            cutoff=date(2025, 6, 30),
        ),
        ClosePortfolio(command_id="close", portfolio_id="P1", closing=date(2025, 7, 15)),
    ):
        handle_command(app.unit_of_work(), command)
    keys = buyer_keys(app, delivery_terms(agreement))
    authorized = sshd.root / "authorized_keys"
    authorized.write_text(authorized.read_text() + keys.ssh_public + "\n")
    yield app
    app.close()


def _file(sshd: LoopbackSshd, name: str, gpg: BuyerGpg) -> list[dict[str, str]]:
    """A result file as the buyer reads it: signature verified, rows, nothing a formula."""
    path = sshd.home / "results" / name
    status = gpg.run("--status-fd", "1", "--verify", f"{path}.sig", str(path)).stdout
    assert b"GOODSIG" in status
    data = path.read_bytes()
    assert spreadsheet_formulas(data) == []
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_a_decided_putback_and_collections_after_the_sale_reach_the_buyer(
    app: Forwardflow, sshd: LoopbackSshd, book: LedgerBuilder, buyer_gpg: BuyerGpg
) -> None:
    with app.unit_of_work() as uow:
        agreement = uow.agreements.get(AGREEMENT)
    buyer_gpg.import_key(buyer_keys(app, delivery_terms(agreement)).seller_certificate.read_bytes())
    assert send_buyer_files(app, AGREEMENT, date(2025, 7, 20)).files == []  # nothing yet

    handle_command(
        app.unit_of_work(),
        RequestPutback(
            command_id="req",
            portfolio_id="P1",
            request_id="R1",
            receivable_id="I1",
            reason=PutbackReason.FRAUD,
            fact_date=date(2025, 7, 1),
            requested_on=date(2025, 7, 25),
        ),
    )
    assert send_buyer_files(app, AGREEMENT, date(2025, 7, 26)).files == []  # pending: told
    handle_command(  # at intake already; the decision is what is new
        app.unit_of_work(),
        DecidePutback(
            command_id="decide",
            portfolio_id="P1",
            request_id="R1",
            accept=True,
            decided_on=date(2025, 8, 4),
        ),
    )
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get("P1")
    assert portfolio is not None
    price = portfolio.lines["I1"].price
    assert price is not None

    sent = send_buyer_files(app, AGREEMENT, date(2025, 8, 5))
    (decisions,) = [n for n in sent.files if n.endswith(".csv")]
    (row,) = _file(sshd, decisions, buyer_gpg)
    assert (row["request_id"], row["receivable_id"], row["status"]) == ("R1", "I1", "accepted")
    assert Decimal(row["refund_amount"]) == price.amount
    assert row["refund_date"] == row["decided_on"] == "2025-08-04"
    assert send_buyer_files(app, AGREEMENT, date(2025, 8, 6)).files == []  # told once

    # a payment after the sale: the buyer's money, on the next statement
    apply_ledger_change(
        app.unit_of_work(), "realm-1", book.pay("PAY9", "C2", date(2025, 8, 10), {"I2": "250.00"})
    )
    sent = send_buyer_files(app, AGREEMENT, date(2025, 8, 11))
    (statement,) = [n for n in sent.files if n.startswith("remittance-P1-") and n.endswith(".csv")]
    rows = _file(sshd, statement, buyer_gpg)
    (collection,) = [r for r in rows if r["entry"] == "collection"]
    assert (collection["receivable_id"], collection["source"]) == ("I2", "payment:PAY9")
    assert Decimal(collection["amount"]) == Decimal("250.00")
    assert collection["due_on"] == "2025-08-22"  # 10 business days after Sunday 10 August
    assert collection["status"] == "unpaid"
    totals = {r["entry"]: Decimal(r["amount"]) for r in rows if r["entry"].startswith("total")}
    assert totals == {
        "total_due": Decimal("250.00"),
        "total_remitted": Decimal(0),
        "total_outstanding": Decimal("250.00"),
    }

    # its void reverses it on the next statement
    apply_ledger_change(app.unit_of_work(), "realm-1", book.void_payment("PAY9"))
    sent = send_buyer_files(app, AGREEMENT, date(2025, 8, 12))
    (reversed_in,) = [
        n for n in sent.files if n.startswith("remittance-P1-") and n.endswith(".csv")
    ]
    assert reversed_in != statement
    rows = _file(sshd, reversed_in, buyer_gpg)
    entries = [(r["entry"], r["source"], Decimal(r["amount"]), r["status"]) for r in rows]
    assert ("collection", "payment:PAY9", Decimal("250.00"), "reversed") in entries
    assert ("reversal", "payment:PAY9", Decimal("-250.00"), "reversed") in entries
    totals = {r["entry"]: Decimal(r["amount"]) for r in rows if r["entry"].startswith("total")}
    assert totals["total_due"] == Decimal(0)
    assert send_buyer_files(app, AGREEMENT, date(2025, 8, 13)).files == []  # nothing new
