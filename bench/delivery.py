"""Benchmark: forwardflow's sale-file delivery against the shell pipeline a sysadmin writes.

Both sides ship the same N rows to a real OpenSSH sshd on loopback, encrypted to the
same buyer and signed:

  ours      write the CSV (forwardflow's writer, hashing and totalling as it goes),
            encrypt and sign with pysequoia, upload with the pipelined paramiko loop
            (temp name, fsync, size check, rename), sidecar and manifest;
  baseline  write the same CSV, ``gpg --encrypt --sign -z 0``, ``sftp -b`` put.

Rows are synthetic (the same generator for both), so the figure measures building,
encryption and transfer. Prints both times, our peak RSS, and last ``delivery_ratio
<ours/baseline>`` (below 1.0: we are faster).

    python bench/delivery.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from debtsale.agreement import DeliveryTerms
from debtsale.money import Money
from debtsale.salefile import SaleFileTotals
from debtsale.testing import sample_agreement
from forwardflow.testing.gpg import BuyerGpg
from forwardflow.testing.sshd import LoopbackSshd
from sftp.connection import SftpEndpoint
from sftp.deliver import SaleFile, deliver, prepare
from sftp.openpgp import ensure_seller_key

HEADER = list(sample_agreement().file.columns)


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


def totals(count: int) -> SaleFileTotals:
    face = price = Decimal(0)
    for row in rows(count):
        face += Decimal(row[HEADER.index("face")])
        price += Decimal(row[HEADER.index("price")])
    return SaleFileTotals(count, Money(face, "USD"), Money(price, "USD"))


def ours(count: int, work: Path, sshd: LoopbackSshd, buyer: Path, seller: Path) -> float:
    terms = DeliveryTerms(
        host="127.0.0.1",
        port=sshd.port,
        username=sshd.user,
        host_key=sshd.pin,
        buyer_certificate=str(buyer),
        directory="ours",
    )
    expected = totals(count)
    began = time.perf_counter()
    sale = SaleFile(
        "BENCH", "bench", date(2026, 10, 31), date(2026, 11, 13), "1", HEADER, rows(count), expected
    )
    prepared = prepare(sale, terms, work / "ours", buyer_certificate=buyer, seller_key=seller)
    endpoint = SftpEndpoint(terms.host, terms.port, terms.username, terms.host_key, sshd.client_key)
    receipt = deliver(prepared, terms, endpoint, portfolio_id="BENCH")
    elapsed = time.perf_counter() - began
    if receipt.status != "delivered":
        sys.exit(f"our delivery failed: {receipt.error}")
    return elapsed


def baseline(
    count: int, work: Path, sshd: LoopbackSshd, gpg: BuyerGpg, buyer_fpr: str, seller_fpr: str
) -> float:
    plain, cipher = work / "baseline.csv", work / "baseline.csv.pgp"
    known_hosts, batch = work / "known_hosts", work / "batch"
    known_hosts.write_text(sshd.pin + "\n")
    batch.write_text(f"put {cipher} baseline/{cipher.name}\n")
    began = time.perf_counter()
    with plain.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows(count))
    gpg.run(
        *(
            "--trust-model",
            "always",
            "-z",
            "0",
            "--recipient",
            buyer_fpr,
            "--local-user",
            seller_fpr,
        ),
        *("--output", str(cipher), "--encrypt", "--sign", str(plain)),
    )
    subprocess.run(
        [
            shutil.which("sftp") or "/usr/bin/sftp",
            "-q",
            "-b",
            str(batch),
            "-i",
            str(sshd.client_key),
            "-P",
            str(sshd.port),
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            f"{sshd.user}@127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the sale file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ff-bench-delivery-") as folder:
        work = Path(folder)
        gpg = BuyerGpg(work / "gnupg")
        buyer_fpr = gpg.generate_key("Bench Buyer <buyer@bench.test>")
        seller_fpr = gpg.generate_key("Bench Seller <seller@bench.test>")
        buyer = gpg.export_public(buyer_fpr, work / "buyer.asc")
        seller = work / "seller.pgp"
        ensure_seller_key(seller, "Bench Seller <seller@bench.test>")
        with LoopbackSshd(work / "sshd") as sshd:
            for name in ("ours", "baseline"):
                (sshd.home / name).mkdir()
            print(f"rows: {args.rows:,}")
            ours_s = ours(args.rows, work, sshd, buyer, seller)
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            size_mb = (sshd.home / "ours" / "BENCH-2026-11-13.csv.pgp").stat().st_size / 2**20
            rate = size_mb / ours_s
            print(f"forwardflow: {ours_s:.2f} s for {size_mb:.1f} MiB encrypted ({rate:.1f} MiB/s)")
            print(f"forwardflow peak RSS: {rss_mb:.0f} MB")
            base_s = baseline(args.rows, work, sshd, gpg, buyer_fpr, seller_fpr)
            print(f"baseline (csv + gpg -z 0 + sftp -b): {base_s:.2f} s")
    print(f"delivery_ratio {ours_s / base_s:.3f}")


if __name__ == "__main__":
    main()
