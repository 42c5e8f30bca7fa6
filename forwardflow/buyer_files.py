"""The buyer's side of the loop after a sale: put-back outcomes and remittance statements.

After a put-back is decided, the buyer gets a result file naming the outcome, the rule
and the refund with its date; whenever what is owed to it changes (a payment after the
sale, its void, a remittance), the next statement says so. Both go to the buyer's
results folder, signed, and are remembered in ``buyer_notices`` so each decision and
each change is told once. The service runs this with its inbox poll; ``forwardflow
buyer send`` runs it at once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from debtsale.buyer_reports import (
    PUTBACK_RESULT_COLUMNS,
    STATEMENT_COLUMNS,
    DecidedPutback,
    decided_putbacks,
    putback_result_rows,
    statement_digest,
    statement_rows,
)
from debtsale.ledger import Ledger
from debtsale.portfolio import Portfolio
from debtsale.remittance import amounts_due
from debtsale.reports import AmountsDueReport
from forwardflow.bootstrap import Forwardflow
from forwardflow.delivery import buyer_keys, delivery_terms
from forwardflow.store.tables import buyer_notices
from sftp.buyer_files import csv_bytes, send_to_buyer, write_signed
from sftp.connection import SftpEndpoint
from sftp.salefile import WrittenFile

__all__ = ["SentToBuyer", "send_buyer_files"]

log = logging.getLogger("forwardflow.buyer_files")

_TEXT_RESULT = {"portfolio_id", "request_id", "receivable_id", "reason", "rule", "detail"}
_TEXT_STATEMENT = {"portfolio_id", "entry", "receivable_id", "customer_id", "source", "status"}


@dataclass
class SentToBuyer:
    """What one run sent: file names, and the notices recorded with them."""

    files: list[str] = field(default_factory=list)
    decisions: int = 0
    statements: int = 0


@dataclass
class _Pending:
    decided: list[DecidedPutback] = field(default_factory=list)
    statements: list[tuple[str, str, list[list[str]]]] = field(default_factory=list)


def _pending(app: Forwardflow, agreement_id: str, as_of: date) -> _Pending:
    """Decisions not told yet, and statements that say something new (one read)."""
    pending = _Pending()
    with app.unit_of_work() as uow:
        agreement = uow.agreements.get(agreement_id)
        told = {
            (row.kind, row.subject, row.digest)
            for row in uow.connection.execute(
                select(buyer_notices.c.kind, buyer_notices.c.subject, buyer_notices.c.digest).where(
                    buyer_notices.c.agreement_id == agreement_id
                )
            )
        }
        told_requests = {subject for kind, subject, _ in told if kind == "putback"}
        ledgers: dict[str, Ledger] = {}
        sold: list[Portfolio] = [
            p for p in uow.portfolios.list() if p.agreement_id == agreement_id and p.closing
        ]
        for portfolio in sorted(sold, key=lambda p: p.id):
            pending.decided += [
                d for d in decided_putbacks(portfolio) if d.request_id not in told_requests
            ]
            if portfolio.tenant not in ledgers:
                ledgers[portfolio.tenant] = uow.ledger.load(portfolio.tenant)
            items = amounts_due(portfolio, ledgers[portfolio.tenant], agreement.remittance)
            report = AmountsDueReport.of(portfolio, items, as_of)
            if not report.items and not report.withdrawn and not portfolio.remittances:
                continue  # nothing collected for the buyer yet: no statement
            rows = statement_rows(portfolio, report)
            digest = statement_digest(rows)
            if ("statement", portfolio.id, digest) not in told:
                pending.statements.append((portfolio.id, digest, rows))
    return pending


def _record(app: Forwardflow, agreement_id: str, notices: list[dict[str, Any]]) -> None:
    with app.unit_of_work() as uow:
        for notice in notices:
            exists = uow.connection.execute(
                select(buyer_notices.c.name).where(
                    *(getattr(buyer_notices.c, k) == notice[k] for k in ("kind", "subject")),
                    buyer_notices.c.agreement_id == agreement_id,
                    buyer_notices.c.digest == notice["digest"],
                )
            ).first()
            if exists is None:  # a run that crashed after sending may have told it already
                uow.connection.execute(
                    buyer_notices.insert().values(agreement_id=agreement_id, **notice)
                )
        uow.commit()


def send_buyer_files(app: Forwardflow, agreement_id: str, as_of: date | None = None) -> SentToBuyer:
    """Send the buyer what it has not been told: decided put-backs, changed statements."""
    as_of = as_of or date.today()  # noqa: DTZ011 - the statement's date, local to the seller
    pending = _pending(app, agreement_id, as_of)
    sent = SentToBuyer()
    if not pending.decided and not pending.statements:
        return sent
    with app.unit_of_work() as uow:
        agreement = uow.agreements.get(agreement_id)
    terms = delivery_terms(agreement)
    keys = buyer_keys(app, terms)
    folder = app.settings.data_dir / "outgoing" / agreement_id / "buyer"
    files: list[WrittenFile] = []
    notices: list[dict[str, Any]] = []
    if pending.decided:
        body = csv_bytes(PUTBACK_RESULT_COLUMNS, putback_result_rows(pending.decided), _TEXT_RESULT)
        name = f"putback-decisions-{as_of.isoformat()}-{hashlib.sha256(body).hexdigest()[:8]}.csv"
        files += write_signed(folder, name, body, keys.seller_secret)
        notices += [
            {"kind": "putback", "subject": d.request_id, "digest": "decided", "name": name}
            for d in pending.decided
        ]
    for portfolio_id, digest, rows in pending.statements:
        body = csv_bytes(STATEMENT_COLUMNS, rows, _TEXT_STATEMENT)
        name = f"remittance-{portfolio_id}-{as_of.isoformat()}-{digest[:8]}.csv"
        files += write_signed(folder, name, body, keys.seller_secret)
        notices.append(
            {"kind": "statement", "subject": portfolio_id, "digest": digest, "name": name}
        )
    endpoint = SftpEndpoint(terms.host, terms.port, terms.username, terms.host_key, keys.ssh_key)
    send_to_buyer(endpoint, terms, files)
    _record(app, agreement_id, notices)
    sent.files = [f.path.name for f in files]
    sent.decisions, sent.statements = len(pending.decided), len(pending.statements)
    log.info(
        "told the buyer agreement=%s decisions=%d statements=%d",
        agreement_id,
        sent.decisions,
        sent.statements,
    )
    return sent
