"""Benchmark: a QuickBooks backfill is bounded by the platform's request limit, not by us.

The emulator, in a process of its own (its CPU is not ours to measure), holds
``--invoices`` open invoices (20,000), each partly paid, and answers like a real
platform: every call takes ``--latency`` seconds and a company may make at most
``--limit`` calls in any 60 seconds (429 beyond, as Intuit). forwardflow's
connector backfills the company with its limit set to the same figure. The baseline is
the limit itself: the last line is ``backfill_ratio X`` = achieved calls per minute ÷
the limit (1.0: every call the platform allows was made; a sliding window lets the
first minute's calls go at once, so a short run can exceed 1). Also printed, for
information: the same backfill one call at a time (``--workers 1``), bounded by latency.

    python bench/backfill.py [--invoices 20000] [--limit 200] [--latency 0.5] [--page 100]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection

from pydantic import SecretStr

from connectors.quickbooks.platform import QuickBooks
from connectors.quickbooks.settings import QuickBooksSettings
from emulators.quickbooks.app import Emulator
from emulators.quickbooks.company import EmulatedCompany
from emulators.quickbooks.limits import RequestLimit
from emulators.quickbooks.server import EmulatorServer
from testkit.platforms import MemoryContext
from testkit.quickbooks_api import connect_company

REALM = "4620816377"


def seed(company: EmulatedCompany, invoices: int) -> None:
    """``invoices`` open invoices over a tenth as many customers, each partly paid."""
    customers = [company.add_customer(f"Customer {n:05d}")["Id"] for n in range(invoices // 10)]
    start = date(2024, 1, 1)
    for n in range(invoices):
        customer = customers[n % len(customers)]
        amount = Decimal(100 + n % 900)
        invoice = company.add_invoice(customer, amount, start + timedelta(days=n % 700))["Id"]
        company.post_payment(customer, start + timedelta(days=n % 700 + 30), {invoice: amount / 4})


def serve_emulator(commands: Connection, args: argparse.Namespace) -> None:
    """The child process: the emulator, seeded, on its own core; answers the parent's asks."""
    emulator = Emulator(latency_seconds=args.latency)
    started = time.perf_counter()
    seed(emulator.company(REALM), args.invoices)
    seconds = time.perf_counter() - started
    with EmulatorServer(emulator) as server:
        commands.send((server.port, seconds))
        while (ask := commands.recv()) != "stop":
            if ask == "limit":  # from now on, counted
                emulator.limit = RequestLimit(args.limit)
            elif ask == "counts":
                held = emulator.limit
                commands.send((held.allowed, held.refused) if held else (0, 0))


class _Remote(EmulatorServer):
    """The child's emulator as the parent's OAuth helpers see it (its URL, its credentials)."""

    def __init__(self, port: int) -> None:  # no server here: the child serves
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.emulator = Emulator()  # the same fixed credentials as the child's


def run(
    server: EmulatorServer, commands: Connection, args: argparse.Namespace, workers: int
) -> tuple[int, float]:
    """Backfill the company once; (calls made, seconds)."""
    emulator = server.emulator
    settings = QuickBooksSettings(
        client_id=emulator.client_id,
        client_secret=SecretStr(emulator.client_secret),
        verifier_token=SecretStr(emulator.verifier_token),
        api_base_url=server.api_url_v3,
        discovery_url=server.discovery_url,
        calls_per_minute=args.limit,
        backfill_page_size=args.page,
        backfill_workers=workers,
    )
    context = MemoryContext(settings, {REALM})
    connect_company(server, REALM, context.tokens)
    commands.send("limit")  # the connect's calls do not count
    started = time.perf_counter()
    published = QuickBooks().backfill(context, REALM)
    seconds = time.perf_counter() - started
    commands.send("counts")
    calls, refused = commands.recv()
    print(
        f"workers {workers:>2}: {published:,} changes from {calls:,} calls in {seconds:6.1f} s"
        f" = {calls / seconds * 60:7.1f} calls/min, {refused} refused (429)",
        flush=True,
    )
    return calls, seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--limit", type=int, default=200, help="calls per minute per company")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per call")
    parser.add_argument("--page", type=int, default=100, help="rows per query page")
    parser.add_argument("--workers", type=int, default=8, help="backfill reads at once")
    parser.add_argument("--sequential", action="store_true", help="also time --workers 1")
    args = parser.parse_args(argv)
    commands, child_end = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=serve_emulator, args=(child_end, args), daemon=True
    )
    child.start()
    port, seeded_in = commands.recv()
    print(
        f"emulator in its own process: {args.invoices:,} open invoices with payments seeded "
        f"in {seeded_in:.1f} s; limit {args.limit} calls/min, latency {args.latency} s, "
        f"page {args.page}",
        flush=True,
    )
    server = _Remote(port)
    try:
        if args.sequential:
            run(server, commands, args, 1)
        calls, seconds = run(server, commands, args, args.workers)
    finally:
        commands.send("stop")
        child.join(timeout=30)
    print(f"backfill_ratio {calls / seconds * 60 / args.limit:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
