"""The console in a real browser (Debian's chromium through Playwright): roles, CSRF, the cut
preview against ``forwardflow portfolio cut``, actions applied once and audited once, exports.

One browser and one console server serve the whole module; the tests run in file order, as
one controller's day: preview and cut, close, decide a put-back, remit, export.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from openpyxl import load_workbook

from debtsale.agreement import sample_agreement_text
from forwardflow.bootstrap import bootstrap
from forwardflow.console import console_app
from forwardflow.console.store import Role, add_user
from forwardflow.net import free_port
from forwardflow.settings import load_settings
from forwardflow.store import SqlUnitOfWork, make_engine
from handlers.ledger import apply_ledger_change
from testkit.builders import LedgerBuilder
from testkit.services import chromium_binary, require
from tests.e2e.test_cli import FORWARDFLOW, run
from tests.e2e.test_portfolio_cli import _seed

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
STDIN = ("--password-stdin",)
USERS = {
    "controller": "ctl@example.com",
    "viewer": "view@example.com",
    "operator": "ops@example.com",
}
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("FORWARDFLOW_TEST_OUTPUT", ROOT / "test-output")) / "console"


class Collected(logging.Handler):
    """Every log record of the module's console requests, for the personal-data check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store with six invoices and an agreement, three users, and the console serving it."""
    folder = tmp_path_factory.mktemp("console")
    _seed(folder)
    text = sample_agreement_text().replace("cap_percent = 10", "cap_percent = 50")
    (folder / "agreement.toml").write_text(text)
    assert run("agreement", "add", "agreement.toml", cwd=folder).returncode == 0
    added = subprocess.run(  # one user through the command, the others directly (cheaper)
        [str(FORWARDFLOW), "user", "add", USERS["controller"], "--role", "controller", *STDIN],
        cwd=folder,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    app = bootstrap(load_settings(None, data_dir=folder / ".forwardflow"))
    for role in ("viewer", "operator"):
        add_user(app.engine, USERS[role], Role(role), PASSWORD)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            console_app(app), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    collected = Collected()
    logging.getLogger().addHandler(collected)
    logging.getLogger().setLevel(logging.DEBUG)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield {"folder": folder, "url": f"http://127.0.0.1:{port}", "app": app, "logs": collected}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        logging.getLogger().removeHandler(collected)
        app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module: the system's, never a downloaded build."""
    executable = require(chromium_binary)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), headless=True)
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Any, world: dict[str, Any], role: str) -> Any:
    """A new browser context signed in as ``role`` (its page)."""
    context = browser.new_context(base_url=world["url"], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=email]", USERS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/companies")
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def form_fields(page: Any, selector: str) -> dict[str, str]:
    """The named fields of a form on the page, as the browser would send them."""
    return dict(
        page.eval_on_selector(
            selector,
            "f => Array.from(new FormData(f).entries())",
        )
    )


def audit_rows(page: Any, action: str) -> list[list[str]]:
    page.goto("/audit")
    rows = page.eval_on_selector_all(
        "#audit tbody tr", "rs => rs.map(r => Array.from(r.cells).map(c => c.innerText))"
    )
    return [row for row in rows if row[2] == action]


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", "").strip())


def cli_json(world: dict[str, Any], *args: str) -> Any:
    done = run(*args, "--json", cwd=world["folder"])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_each_role_signs_in_and_out_and_sees_its_pages(browser: Any, world: dict[str, Any]) -> None:
    for role in USERS:
        page = signed_in(browser, world, role)
        assert f"({role})" in page.inner_text("header")
        dead_letters = page.locator("a[href='/deadletters']")
        assert dead_letters.count() == (1 if role == "operator" else 0)
        if role == "operator":
            page.goto("/deadletters")
            assert page.locator("h1").inner_text() == "Dead letters"
            shot(page, "deadletters")
        shot(page, f"companies-{role}")
        cookie = next(c for c in page.context.cookies() if c["name"] == "ff_console")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Lax"
        page.click("#sign-out")
        page.wait_for_url("**/login")
        assert page.goto("/aging").url.endswith("/login")
        page.context.close()
    refused = signed_in(browser, world, "viewer").goto("/deadletters")
    assert refused is not None
    assert refused.status == 403


def test_a_wrong_password_is_refused_and_sign_in_is_throttled(
    browser: Any, world: dict[str, Any]
) -> None:
    context = browser.new_context(base_url=world["url"])
    page = context.new_page()
    statuses = []
    for _ in range(6):
        page.goto("/login")
        page.fill("input[name=email]", "nobody@example.com")
        page.fill("input[name=password]", "not the password")
        with page.expect_response("**/login") as answer:
            page.click("#sign-in")
        statuses.append(answer.value.status)
    assert statuses == [401] * 5 + [429]
    context.close()


def test_the_viewer_cannot_cut_and_a_form_needs_its_csrf_token(
    browser: Any, world: dict[str, Any]
) -> None:
    page = signed_in(browser, world, "viewer")
    page.goto("/cut?cutoff=2025-06-30&preview=1")
    assert page.locator("#preview-count").inner_text() == "6"
    assert page.locator("#cut").count() == 0  # no cut button for a viewer
    token = form_fields(page, "header form")["csrf_token"]
    fields = {
        "csrf_token": token,
        "command_id": "console:cut:viewertriedthis1",
        "cutoff": "2025-06-30",
    }
    assert page.context.request.post("/cut", form=fields).status == 403
    page.context.close()

    page = signed_in(browser, world, "controller")
    page.goto("/cut?cutoff=2025-06-30&preview=1")
    fields = form_fields(page, "#cut-form")
    without = {k: v for k, v in fields.items() if k != "csrf_token"}
    assert page.context.request.post("/cut", form=without).status == 403
    assert page.context.request.post("/cut", form={**fields, "csrf_token": "forged"}).status == 403
    login = page.context.request.post(
        "/login", form={"email": USERS["viewer"], "password": PASSWORD}
    )
    assert login.status == 403  # the sign-in form has its token too
    assert page.context.request.get("/portfolios").ok
    assert "P1" not in page.context.request.get("/portfolios").text()  # nothing was cut
    page.context.close()


def cut_by_cli(world: dict[str, Any], twin: Path, *scope: str) -> dict[str, Any]:
    """``forwardflow portfolio cut`` on the same data as the console's (count, face, price).

    Seeded again, not copied: copying the live database from this process would close
    file handles and so drop the console server's SQLite locks.
    """
    _seed(twin)
    (twin / "agreement.toml").write_text((world["folder"] / "agreement.toml").read_text())
    assert run("agreement", "add", "agreement.toml", cwd=twin).returncode == 0
    cut = run(
        *("portfolio", "cut", "--agreement", "acme-spot-2026", "--cutoff", "2025-06-30"),
        *("--tenant", "realm-1", "--id", "P1", *scope),
        cwd=twin,
    )
    assert cut.returncode == 0, cut.stderr
    said = re.search(r"cut: ([\d,]+) receivables, face ([\d,.]+), price ([\d,.]+)", cut.stdout)
    assert said is not None, cut.stdout
    count, face, price = said.groups()
    return {
        "receivables": int(count.replace(",", "")),
        "face": face.replace(",", ""),
        "price": price.replace(",", ""),
    }


def test_cut_preview_equals_the_cli_cut_and_a_double_submit_cuts_once(
    browser: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    by_cli, scoped_by_cli = (
        cut_by_cli(world, tmp_path / "twin"),
        cut_by_cli(world, tmp_path / "scoped", "--exclude-customer", "C1"),
    )

    page = signed_in(browser, world, "controller")
    page.goto("/cut?agreement=acme-spot-2026&tenant=realm-1&cutoff=2025-06-30&exclude=C1&preview=1")
    assert int(page.inner_text("#preview-count")) == scoped_by_cli["receivables"] == 5
    assert money(page.inner_text("#preview-face")) == Decimal(scoped_by_cli["face"])
    assert money(page.inner_text("#preview-price")) == Decimal(scoped_by_cli["price"])
    page.goto("/cut")
    page.fill("input[name=cutoff]", "2025-06-30")
    page.fill("input[name=portfolio_id]", "P1")
    with page.expect_request(lambda r: r.headers.get("hx-request") == "true"):
        page.click("#preview")  # htmx (served from the package) swaps the preview in
    page.wait_for_selector("#preview-result")
    shot(page, "cut-preview")
    assert int(page.inner_text("#preview-count")) == by_cli["receivables"]
    assert money(page.inner_text("#preview-price")) == Decimal(by_cli["price"])
    assert money(page.inner_text("#preview-face")) == Decimal(by_cli["face"])
    fields = form_fields(page, "#cut-form")
    page.click("#cut")
    page.wait_for_url("**/portfolios/P1**")
    again = page.context.request.post("/cut", form=fields)  # the same form, sent twice
    assert again.ok
    assert "already done" in again.text()
    shot(page, "portfolio")
    shown = cli_json(world, "portfolio", "show", "P1")
    assert (shown["receivables"], shown["face"], shown["price"]) == (
        by_cli["receivables"],
        by_cli["face"],
        by_cli["price"],
    )
    assert len(audit_rows(page, "cut")) == 1
    page.context.close()


def test_close_made_twice_in_the_browser_closes_once(browser: Any, world: dict[str, Any]) -> None:
    page = signed_in(browser, world, "controller")
    page.goto("/portfolios/P1")
    page.fill("input[name=closing]", "2025-07-15")
    fields = form_fields(page, "#close-form")
    page.click("#close")
    page.wait_for_url("**/portfolios/P1**")
    assert page.inner_text("#closing") == "2025-07-15"
    assert "already done" in page.context.request.post("/portfolios/P1/close", form=fields).text()
    shown = cli_json(world, "portfolio", "show", "P1")
    assert shown["closing"] == "2025-07-15", shown
    reconciled = cli_json(world, "portfolio", "reconcile", "P1")
    page.goto("/portfolios/P1")
    assert money(page.inner_text("#recon-price")) == Decimal(reconciled["price"]["amount"])
    shot(page, "portfolio-closed")
    assert len(audit_rows(page, "close")) == 1
    page.context.close()


def test_a_put_back_decided_twice_is_decided_once(browser: Any, world: dict[str, Any]) -> None:
    requested = run(
        *("putback", "request", "P1", "I2", "--reason", "bankruptcy"),
        *("--fact-date", "2025-07-01", "--requested-on", "2025-08-01"),
        *("--evidence", "case_number=25-10001", "--id", "R1"),
        cwd=world["folder"],
    )
    assert requested.returncode == 0, requested.stderr
    page = signed_in(browser, world, "controller")
    page.goto("/putbacks")
    shot(page, "putbacks")
    fields = form_fields(page, ".decide-form")
    page.click(".decide-form .accept")
    page.wait_for_url("**/putbacks**")
    again = page.context.request.post(
        "/putbacks/P1/R1/decide", form={**fields, "decision": "accept"}
    )
    assert "already done" in again.text()
    listed = cli_json(world, "putback", "list", "P1")
    assert [r["status"] for r in listed["rows"]] == ["accepted"]
    assert money(page.locator(".putback-refunds").first.inner_text()) == Decimal(
        listed["refunds"]["amount"]
    )
    assert len(audit_rows(page, "accept put-back")) == 1
    page.context.close()


def test_a_remittance_recorded_twice_is_recorded_once(browser: Any, world: dict[str, Any]) -> None:
    engine = make_engine(f"sqlite:///{world['folder'] / '.forwardflow' / 'forwardflow.db'}")
    book = LedgerBuilder(tenant="realm-1")
    book.pay("P-after", "C4", date(2025, 8, 10), {"I4": "300.00"})
    apply_ledger_change(SqlUnitOfWork(engine), "realm-1", book.changes[-1])
    engine.dispose()
    page = signed_in(browser, world, "controller")
    page.goto("/remittance?as_of=2025-09-30")
    assert page.locator("tr.overdue").count() == 1
    shot(page, "remittance")
    page.fill(".remit-form input[name=amount]", "300.00")
    page.fill(".remit-form input[name=paid_on]", "2025-09-01")
    fields = form_fields(page, ".remit-form")
    page.click(".remit-form button")
    page.wait_for_url("**/remittance**")
    assert "already done" in page.context.request.post("/remittance/P1", form=fields).text()
    statement = cli_json(world, "remittance", "statement", "P1", "--as-of", "2025-09-30")
    assert statement["remitted"]["amount"] == "300.00"
    assert statement["outstanding"]["amount"] == "0.00"
    assert len(audit_rows(page, "remittance")) == 1
    page.context.close()


def _csv_total(body: bytes, column: str, label: str = "TOTAL") -> Decimal:
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    return Decimal(next(r for r in rows if r[next(iter(r))].startswith(label))[column])


def _xlsx_total(body: bytes, column: str, label: str = "TOTAL") -> Decimal:
    sheet = load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows(values_only=True))
    at = rows[0].index(column)
    return Decimal(str(next(r for r in rows if str(r[0]).startswith(label))[at]))


def test_exports_open_and_tie_out_to_the_page(browser: Any, world: dict[str, Any]) -> None:
    page = signed_in(browser, world, "viewer")
    get = page.context.request.get
    page.goto("/valuation?agreement=acme-spot-2026&tenant=realm-1&as_of=2025-06-30")
    shot(page, "valuation")
    offer = money(page.inner_text("#valuation-offer"))
    csv_url = page.get_attribute("#export-valuation-csv", "href")
    xlsx_url = page.get_attribute("#export-valuation-xlsx", "href")
    assert _csv_total(get(csv_url).body(), "offer") == offer
    assert _xlsx_total(get(xlsx_url).body(), "offer") == offer

    page.goto("/portfolios/P1")
    price = money(page.inner_text("#recon-price"))
    assert _csv_total(get("/exports/reconciliation.csv?portfolio=P1").body(), "price") == price
    assert _xlsx_total(get("/exports/reconciliation.xlsx?portfolio=P1").body(), "price") == price

    page.goto("/putbacks")
    refunds = money(page.locator(".putback-refunds").first.inner_text())
    body = get("/exports/putbacks.csv?portfolio=P1").body()
    assert _csv_total(body, "refund", "TOTAL refunds") == refunds
    body = get("/exports/putbacks.xlsx?portfolio=P1").body()
    assert _xlsx_total(body, "refund", "TOTAL refunds") == refunds

    page.goto("/remittance?as_of=2025-09-30")
    due = money(page.locator(".remit-due").first.inner_text())
    body = get("/exports/remittance.csv?portfolio=P1&as_of=2025-09-30").body()
    assert _csv_total(body, "amount", "TOTAL due") == due
    body = get("/exports/remittance.xlsx?portfolio=P1&as_of=2025-09-30").body()
    assert _xlsx_total(body, "amount", "TOTAL due") == due

    page.goto("/aging?tenant=realm-1&as_of=2025-06-30")
    page.locator("td.n a").first.click()  # drill down into a cohort, then a customer
    page.locator("tbody td a").first.click()
    assert page.locator("tbody tr").count() >= 1
    shot(page, "aging-drill-down")
    for path, name in (
        ("/aging?tenant=realm-1&as_of=2025-06-30", "aging"),
        ("/journal", "journal"),
        ("/audit", "audit"),
    ):
        page.goto(path)
        shot(page, name)
    page.context.close()


def test_no_debtor_personal_data_in_the_console_logs(world: dict[str, Any]) -> None:
    logged = "\n".join(world["logs"].lines)
    assert "console" in logged  # the console did log (ids and outcomes)
    for personal in ("Debtor C", "Elm St", "Springfield"):
        assert personal not in logged
