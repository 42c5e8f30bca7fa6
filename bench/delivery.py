"""Benchmark: forwardflow's sale-file delivery against the pipeline a sysadmin writes.

Both sides ship the same N sold receivables, read from the same store (SQLite, the
embedded default), to a real OpenSSH sshd on loopback, encrypted to the same buyer
(a gpg-made key) and signed:

  ours      ``deliver_portfolio``: the recorded rows streamed from the store in chunks,
            the CSV hashed and totalled while a child process encrypts and signs it with
            pysequoia (the plaintext never touches the disk) and a thread uploads the
            ciphertext as it grows (pipelined paramiko writes to a temporary name);
            published (renamed) once the rows tied out to the reconciliation, then
            sidecar, manifest and the receipt in the store;
  baseline  a Python export of the same stored rows (sqlite3), then
            ``gpg --encrypt --sign -z 0``, then OpenSSH ``sftp -b`` put.

Filling the store is not timed. Each round delivers afresh in a new process (so its
peak RSS is the delivery's own; the encryptor's is shown apart) and then runs the
baseline; this machine is noisy, so rounds alternate and the median ratio is the
result. Prints each round's times, RSS and ratio, and last ``delivery_ratio
<ours/baseline>`` (below 1.0: we are faster).

    python bench/delivery.py [--rows 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from rich.progress import Progress

from debtsale.agreement import sample_agreement_text
from debtsale.money import Money
from debtsale.salefields import DEFAULT_COLUMNS
from debtsale.salefile import SaleFileSummary, SaleFileTotals, SoldRow, csv_lines
from forwardflow.bootstrap import Forwardflow, bootstrap
from forwardflow.delivery import deliver_portfolio
from forwardflow.settings import Settings
from forwardflow.store import upgrade
from testkit.builders import sample_agreement
from testkit.gpg import BuyerGpg
from testkit.sshd import LoopbackSshd

HEADER = list(DEFAULT_COLUMNS["1"])  # the layout the earlier figures were measured with
PORTFOLIO = "BENCH"
CLOSING = date(2026, 11, 13)


def rows(count: int) -> Iterator[list[str]]:
    """Deterministic rows in the sample layout."""
    start = date(2023, 1, 1)
    for n in range(count):
        invoice = start + timedelta(days=n % 900)
        face = Decimal(100 + (n * 37) % 9_900) + Decimal(n % 100) / 100
        values = {
            "receivable_id": f"INV{n:08}",
            "customer_id": f"C{n % 50_000:06}",
            "debtor_legal_name": f"Debtor {n % 50_000} LLC",
            "billing_address": f"{n % 999} Elm St, Springfield, IL, 62701, US",
            "invoice_number": f"INV-{n:08}",
            "invoice_date": invoice.isoformat(),
            "due_date": (invoice + timedelta(days=30)).isoformat(),
            "original_amount": str(face),
            "payments_and_credits_to_cutoff": "0.00",
            "face_at_cutoff": str(face),
            "face": str(face),
            "last_payment_date": "",
            "last_payment_amount": "",
            "first_delinquency_date": (invoice + timedelta(days=31)).isoformat(),
            "price": str((face * Decimal("0.05")).quantize(Decimal("0.01"))),
            "currency": "USD",
        }
        yield [values[c] for c in HEADER]


def sold(count: int) -> Iterator[SoldRow]:
    """The rows as the close records them: CSV line, face and price in cents."""
    face_at, price_at = HEADER.index("face"), HEADER.index("price")
    for values, line in zip(rows(count), csv_lines(rows(count)), strict=True):
        face, price = Decimal(values[face_at]), Decimal(values[price_at])
        yield SoldRow(line.encode("utf-8"), int(face * 100), int(price * 100))


def totals(count: int) -> SaleFileTotals:
    face = price = 0
    for row in sold(count):
        face += row.face_minor
        price += row.price_minor
    dollars = Decimal("0.01")
    return SaleFileTotals(count, Money(face * dollars, "USD"), Money(price * dollars, "USD"))


def store_sale(app: Forwardflow, count: int, sshd: LoopbackSshd, buyer: str) -> None:
    """The agreement with the buyer's server, and a closed sale of ``count`` rows (untimed)."""
    delivery = (
        "\n[delivery]\n"
        f'host = "127.0.0.1"\nport = {sshd.port}\nusername = "{sshd.user}"\n'
        f'host_key = "{sshd.pin}"\nbuyer_certificate = "{buyer}"\ndirectory = "ours"\n'
    )
    summary = SaleFileSummary(
        portfolio_id=PORTFOLIO,
        agreement_id=sample_agreement().id,
        tenant="bench",
        cutoff=date(2026, 10, 31),
        closing=CLOSING,
        layout_version="1",
        header=tuple(HEADER),
        totals=totals(count),
    )
    with app.unit_of_work() as uow:
        uow.agreements.add(sample_agreement_text() + delivery)
        with Progress(transient=True) as progress:
            task = progress.add_task("filling the store", total=count)

            def counted() -> Iterator[SoldRow]:
                for n, row in enumerate(sold(count)):
                    if n % 10_000 == 0:
                        progress.update(task, completed=n)
                    yield row

            uow.sale_files.record(summary, counted())
        uow.commit()
    with sqlite3.connect(app.settings.data_dir / "forwardflow.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # both sides read the same settled file


def ours(settings: Settings) -> dict[str, float]:
    """Deliver in a fresh process (so its peak RSS is the delivery's); its figures back."""
    child = subprocess.run(
        [sys.executable, __file__, "--deliver", settings.model_dump_json()],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(child.stdout.splitlines()[-1])
    return figures


def deliver_here(settings_json: str) -> None:
    """The timed part, run by ``ours`` in its own process; prints one JSON line."""
    app = bootstrap(Settings.model_validate_json(settings_json))
    try:
        began = time.perf_counter()
        receipt = deliver_portfolio(app, PORTFOLIO)
        elapsed = time.perf_counter() - began
    finally:
        app.close()
    if receipt.status != "delivered":
        sys.exit(f"our delivery failed: {receipt.error}")
    figures = {
        "seconds": elapsed,
        "attempts": receipt.attempts,
        "rss_mb": _peak_mb(resource.RUSAGE_SELF),
        "encryptor_rss_mb": _peak_mb(resource.RUSAGE_CHILDREN),
    }
    print(json.dumps(figures))


def export(database: Path, plain: Path) -> None:
    """The sysadmin's export: the stored rows' CSV bytes under a header, with Python's sqlite3."""
    with sqlite3.connect(database) as db, plain.open("wb") as out:
        out.write(next(csv_lines([HEADER])).encode("utf-8"))
        cursor = db.execute(
            "SELECT data FROM sale_file_chunks WHERE portfolio_id = ? ORDER BY position",
            (PORTFOLIO,),
        )
        out.writelines(data for (data,) in cursor)


def baseline(
    database: Path, work: Path, sshd: LoopbackSshd, gpg: BuyerGpg, buyer: str, seller: str
) -> float:
    plain, cipher = work / "baseline.csv", work / "baseline.csv.pgp"
    known_hosts, batch = work / "known_hosts", work / "batch"
    known_hosts.write_text(sshd.pin + "\n")
    batch.write_text(f"put {cipher} baseline/{cipher.name}\n")
    began = time.perf_counter()
    export(database, plain)
    gpg.run(
        *("--trust-model", "always", "-z", "0", "--recipient", buyer, "--local-user", seller),
        *("--output", str(cipher), "--encrypt", "--sign", str(plain)),
    )
    subprocess.run(
        [
            shutil.which("sftp") or "/usr/bin/sftp",
            *("-q", "-b", str(batch), "-i", str(sshd.client_key), "-P", str(sshd.port)),
            *("-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known_hosts}"),
            *("-o", "StrictHostKeyChecking=yes", f"{sshd.user}@127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _fresh(work: Path, sshd: LoopbackSshd) -> None:
    """Forget the previous round's delivery: local artefacts and both remote folders."""
    shutil.rmtree(work / "data" / "outgoing", ignore_errors=True)
    for name in ("ours", "baseline"):
        for sent in (sshd.home / name).iterdir():
            sent.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the sale file")
    parser.add_argument(
        "--rounds", type=int, default=3, help="ours/baseline pairs; the median ratio is reported"
    )
    parser.add_argument("--deliver", metavar="SETTINGS_JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.deliver:
        deliver_here(args.deliver)
        return
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ff-bench-delivery-") as folder:
        work = Path(folder)
        gpg = BuyerGpg(work / "gnupg")
        buyer_fpr = gpg.generate_key("Bench Buyer <buyer@bench.test>")
        seller_fpr = gpg.generate_key("Bench Seller <seller@bench.test>")
        buyer = gpg.export_public(buyer_fpr, work / "buyer.asc")
        with LoopbackSshd(work / "sshd") as sshd:
            for name in ("ours", "baseline"):
                (sshd.home / name).mkdir()
            settings = Settings(
                data_dir=work / "data",
                delivery={"ssh_key": sshd.client_key, "attempts": 1},
            )
            app = bootstrap(settings)
            try:
                upgrade(app.engine)
                print(f"rows: {args.rows:,}")
                store_sale(app, args.rows, sshd, str(buyer))
            finally:
                app.close()
            database = work / "data" / "forwardflow.db"
            for round_ in range(1, args.rounds + 1):
                _fresh(work, sshd)
                mine = ours(settings)
                base_s = baseline(database, work, sshd, gpg, buyer_fpr, seller_fpr)
                sent = sshd.home / "ours" / f"{PORTFOLIO}-{CLOSING}.csv.pgp"
                size_mb = sent.stat().st_size / 2**20
                ratios.append(mine["seconds"] / base_s)
                print(
                    f"round {round_}: forwardflow {mine['seconds']:.2f} s "
                    f"({size_mb:.1f} MiB encrypted, {size_mb / mine['seconds']:.1f} MiB/s, "
                    f"{mine['attempts']:.0f} attempt), baseline (export + gpg -z 0 + sftp -b) "
                    f"{base_s:.2f} s, ratio {ratios[-1]:.3f}"
                )
                print(
                    f"  forwardflow peak RSS: {mine['rss_mb']:.0f} MB delivering, "
                    f"{mine['encryptor_rss_mb']:.0f} MB encryptor"
                )
    print(f"delivery_ratio {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
