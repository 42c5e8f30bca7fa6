"""``forwardflow emulator …``: the emulated platforms, served on loopback until Ctrl-C."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emulators.quickbooks.app import Emulator
from emulators.quickbooks.scenario import load_scenario
from emulators.quickbooks.server import EmulatorServer
from emulators.xero.app import XeroEmulator
from emulators.xero.scenario import load_scenario as load_xero_scenario
from emulators.xero.server import XeroServer

__all__ = ["emulator_app"]

console = Console()

emulator_app = typer.Typer(help="Local emulators of accounting platforms.", no_args_is_help=True)


@emulator_app.command("quickbooks")
def emulator_quickbooks(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks one).")] = 0,
    scenario: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Scenario JSON to seed.")
    ] = None,
    realm: Annotated[str, typer.Option(help="Realm of the seeded company.")] = "4620816365",
    webhook_url: Annotated[
        str | None, typer.Option(help="Where to send signed webhooks (forwardflow's endpoint).")
    ] = None,
) -> None:
    """Serve a QuickBooks Online emulator (v3 API, OAuth, signed webhooks) until Ctrl-C."""
    emulator = Emulator(webhook_url=webhook_url)
    company = emulator.company(realm)
    if scenario is not None:
        load_scenario(company, json.loads(scenario.read_text(encoding="utf-8")))
    with EmulatorServer(emulator, port) as server:
        console.print(
            f"QuickBooks emulator for realm {realm} at {server.url}\n"
            f"  quickbooks.api_base_url  = {server.api_url_v3}\n"
            f"  quickbooks.discovery_url = {server.discovery_url}\n"
            f"  quickbooks.client_id     = {emulator.client_id}\n"
            f"  client_secret / verifier_token: {emulator.client_secret} / "
            f"{emulator.verifier_token}"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("emulator stopped")


@emulator_app.command("xero")
def emulator_xero(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks one).")] = 0,
    scenario: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Scenario JSON to seed.")
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where to send signed webhooks (forwardflow's endpoint).")
    ] = None,
    retry_scale: Annotated[
        float, typer.Option(help="Scale of Xero's webhook retry delays (0.01: 100x faster).")
    ] = 1.0,
) -> None:
    """Serve a Xero emulator (Accounting API, OAuth, /connections, signed webhooks) until Ctrl-C."""
    emulator = XeroEmulator(webhook_url=webhook_url, retry_scale=retry_scale)
    if scenario is not None:
        load_xero_scenario(emulator, json.loads(scenario.read_text(encoding="utf-8")))
    else:
        emulator.organisation(name="Demo Company (US)")
    with XeroServer(emulator, port) as server:
        lines = [f"Xero emulator at {server.url}, organisations: {', '.join(emulator.orgs)}"]
        lines += [f"  xero.{key:<13} = {value}" for key, value in server.settings_values().items()]
        console.print("\n".join(lines))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("emulator stopped")
