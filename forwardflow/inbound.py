"""Buyers' put-back files: fetch from the buyer's inbound folder, apply, answer, move aside.

The inbox is the buyer's to write, so nothing in it is trusted and no entry can jam it:

- every entry is handled on its own; whatever goes wrong with one is answered and the
  entry moved aside, and the run goes on (only a lost connection stops a run);
- only regular files directly in the folder are read (``lstat`` before, ``fstat`` after
  opening); a symlink or directory is refused and moved aside, never followed;
- names are checked, and a refused name gets an answer too (under a safe name);
- files are known by their content: the same bytes under any name get the same answer,
  stored with them, and can never file a request twice;
- each answer row names the line's receivable and the request id made for it;
- nothing in ``processed/`` or the results folder is ever overwritten (SFTP's plain
  rename refuses an existing target; a taken name gets the file's hash);
- the whole file is applied in one transaction (one portfolio write per portfolio), and
  lines that break a rule go to ``putback_rejections``, not the portfolio document.

An upload in progress under a temporary name (``.name`` or ``*.part``/``.tmp``/
``.filepart``) is left alone until it has not changed for ``_STALE_S``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from debtsale.agreement import Agreement
from debtsale.commands import RequestPutback
from debtsale.money import Money
from forwardflow.bootstrap import Forwardflow
from forwardflow.delivery import buyer_keys, delivery_terms
from forwardflow.putback_documents import (
    DOCUMENTS_FOLDER,
    MissingDocumentError,
    collect_documents,
    evidence_of,
)
from forwardflow.store.tables import inbound_files, putback_rejections
from handlers.putback_file import LineAnswer, request_putbacks
from handlers.retry import retrying
from sftp.connection import SftpEndpoint
from sftp.inbox import (
    CONNECTION_ERRORS,
    MAX_FILE_BYTES,
    BuyerInbox,
    EntryRefusedError,
    open_inbox,
)
from sftp.putback_files import PutbackLine, name_problem, parse_request_file, result_csv

__all__ = ["MAX_FILE_BYTES", "InboxResult", "process_buyer_inbox", "refused_lines"]

log = logging.getLogger("forwardflow.inbound")


@dataclass
class InboxResult:
    """One request file and what became of each of its lines."""

    name: str
    rows: list[dict[str, str]] = field(default_factory=list)
    rejected_whole: bool = False
    answer: str = ""  # where the answer was written, in the buyer's outbound folder
    moved_to: str = ""  # where the file was moved, in the buyer's inbound folder
    repeated: bool = False  # the same bytes were answered before


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _command(
    agreement: Agreement,
    file_id: str,
    stem: str,
    line: PutbackLine,
    cutoff: date,
    documents: dict[str, str] | None = None,
) -> RequestPutback:
    required = agreement.putback.evidence.get(line.reason, ())
    evidence = dict.fromkeys(required, line.evidence_reference) or (
        {"reference": line.evidence_reference} if line.evidence_reference else {}
    )
    if line.documents:  # uploaded beside the request, in the inbound documents/ folder
        evidence["documents"] = evidence_of(line.documents, documents or {})
    collected = line.buyer_collections
    return RequestPutback(
        command_id=f"inbound:{file_id}:{line.line}",
        portfolio_id=line.portfolio_id,
        request_id=f"{stem}-{file_id[:8]}-L{line.line}",
        receivable_id=line.receivable_id,
        reason=line.reason,
        fact_date=line.fact_date or cutoff,
        requested_on=line.requested_on,
        evidence=evidence,
        buyer_collections=Money.of(collected, agreement.currency) if collected else None,
        replacement_id=line.replacement_id,
    )


def _row(answer: LineAnswer) -> dict[str, str]:
    return {
        "line": str(answer.line),
        "portfolio_id": answer.portfolio_id,
        "receivable_id": answer.receivable_id,
        "request_id": answer.request_id,
        "status": answer.status,
        "rule": answer.rule,
        "detail": answer.detail,
    }


def _whole(rule: str, detail: str, line: int = 0) -> dict[str, str]:
    return {"line": str(line), "status": "rejected", "rule": rule, "detail": detail}


def _cutoffs(app: Forwardflow, agreement: Agreement, ids: set[str]) -> dict[str, date]:
    """Cut-off dates of the named portfolios sold under this agreement."""
    found = {}
    with app.unit_of_work() as uow:
        for portfolio_id in ids:
            portfolio = uow.portfolios.get(portfolio_id)
            if portfolio is not None and portfolio.agreement_id == agreement.id:
                found[portfolio_id] = portfolio.cutoff
    return found


def _apply(
    app: Forwardflow,
    agreement: Agreement,
    name: str,
    digest: str,
    data: bytes,
    documents: dict[str, str] | None = None,
) -> tuple[InboxResult, bytes]:
    """Apply a file's lines in one transaction; record its answer under its content hash.

    A payment or a decision saving one of its portfolios meanwhile makes the transaction
    conflict; it then runs again from the start (``handlers.retry``).
    """
    return retrying(_apply_once)(app, agreement, name, digest, data, documents)


def _apply_once(
    app: Forwardflow,
    agreement: Agreement,
    name: str,
    digest: str,
    data: bytes,
    documents: dict[str, str] | None = None,
) -> tuple[InboxResult, bytes]:
    result = InboxResult(name)
    lines, problems = parse_request_file(data)
    stem = name.split(".", 1)[0]
    if problems:
        result.rejected_whole = True
        result.rows = [_whole("file.malformed", p.problem, p.line) for p in problems]
    cutoffs = _cutoffs(app, agreement, {line.portfolio_id for line in lines}) if lines else {}
    with app.unit_of_work() as uow:
        if not problems:
            commands = [
                (
                    line.line,
                    _command(
                        agreement,
                        digest,
                        stem,
                        line,
                        cutoffs.get(line.portfolio_id, line.requested_on),
                        documents,
                    ),
                )
                for line in lines
            ]
            answers = request_putbacks(uow, agreement.id, commands)
            result.rows = [_row(answer) for answer in answers]
            refused = [
                {
                    "agreement_id": agreement.id,
                    "file_sha256": digest,
                    "line": answer.line,
                    "portfolio_id": answer.portfolio_id[:64],
                    "receivable_id": answer.receivable_id[:200],
                    "rule": answer.rule[:60],
                    "detail": answer.detail,
                }
                for answer in answers
                if answer.rejected
            ]
            if refused:
                uow.connection.execute(putback_rejections.insert(), refused)
        body = result_csv(result.rows)
        uow.connection.execute(
            inbound_files.insert().values(
                agreement_id=agreement.id,
                sha256=digest,
                name=name[:255],
                lines=len(result.rows),
                result=body,
            )
        )
        uow.commit()
    return result, body


def _answered_before(app: Forwardflow, agreement_id: str, digest: str) -> bytes | None:
    with app.unit_of_work() as uow:
        row = uow.connection.execute(
            select(inbound_files.c.result).where(
                inbound_files.c.agreement_id == agreement_id, inbound_files.c.sha256 == digest
            )
        ).first()
    return bytes(row.result) if row else None


def _documents(
    app: Forwardflow,
    inbox: BuyerInbox,
    agreement: Agreement,
    data: bytes,
    seller_secret: bytes | None,
) -> dict[str, str]:
    """The documents the file's lines name, read from ``documents/`` and kept (by hash)."""
    lines, _ = parse_request_file(data)
    keep = app.settings.data_dir / "inbound" / agreement.id / DOCUMENTS_FOLDER
    try:
        return collect_documents(
            (d for line in lines for d in line.documents),
            lambda path: inbox.read(path.removeprefix(f"{inbox.inbound}/"), seller_secret),
            inbox.inbound,
            keep,
        )
    except MissingDocumentError as missing:
        raise EntryRefusedError("inbound.documents", str(missing)) from None


def _handle(
    app: Forwardflow,
    inbox: BuyerInbox,
    agreement: Agreement,
    seller_secret: bytes | None,
    name: str,
) -> InboxResult:
    """One inbox entry, start to end: read, apply or refuse, answer, move aside."""
    problem = name_problem(name)
    answer_name = name
    tag = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    if problem is not None:
        answer_name = f"refused-{tag}"
    result = InboxResult(name)
    body: bytes
    try:
        if problem is not None:
            raise EntryRefusedError(
                "inbound.name", f"the file name {_short(name)!r} is refused: {problem}"
            )
        data = inbox.read(name, seller_secret)
        digest = hashlib.sha256(data).hexdigest()
        tag = digest[:12]
        stored = _answered_before(app, agreement.id, digest)
        if stored is not None:
            result.repeated, body = True, stored
        else:
            documents = _documents(app, inbox, agreement, data, seller_secret)
            result, body = _apply(app, agreement, name, digest, data, documents)
    except EntryRefusedError as refused:
        result = InboxResult(name, [_whole(refused.rule, str(refused))], rejected_whole=True)
        body = result_csv(result.rows)
    except CONNECTION_ERRORS:
        raise  # the connection is gone: stop this run, nothing was answered or moved
    except Exception as error:  # a bug or an outage must not jam the inbox: answer, move on
        log.exception("request file failed tag=%s", tag)
        result = InboxResult(
            name,
            [
                _whole(
                    "inbound.failed",
                    f"could not be processed ({type(error).__name__}); nothing was applied. "
                    "Send it again later or contact the seller",
                )
            ],
            rejected_whole=True,
        )
        body = result_csv(result.rows)
    result.answer = inbox.answer(answer_name, tag, body)
    result.moved_to = inbox.move_aside(name, tag)
    log.info(
        "request file answered tag=%s lines=%d rejected_whole=%s repeated=%s",
        tag,
        len(result.rows),
        result.rejected_whole,
        result.repeated,
    )
    return result


def process_buyer_inbox(app: Forwardflow, agreement_id: str) -> list[InboxResult]:
    """Answer every request file waiting in the buyer's inbound folder, each on its own."""
    with app.unit_of_work() as uow:
        agreement = uow.agreements.get(agreement_id)
    terms = delivery_terms(agreement)
    keys = buyer_keys(app, terms)
    endpoint = SftpEndpoint(terms.host, terms.port, terms.username, terms.host_key, keys.ssh_key)
    with open_inbox(endpoint, terms.inbound_directory, terms.outbound_directory) as inbox:
        return [
            _handle(app, inbox, agreement, keys.seller_secret, entry.name)
            for entry in inbox.waiting(skip={DOCUMENTS_FOLDER})
        ]


def refused_lines(app: Forwardflow, portfolio_id: str) -> list[dict[str, str]]:
    """Lines of buyers' files naming this portfolio that broke a rule, oldest first."""
    with app.unit_of_work() as uow:
        rows = uow.connection.execute(
            select(putback_rejections)
            .where(putback_rejections.c.portfolio_id == portfolio_id)
            .order_by(putback_rejections.c.id)
        )
        return [
            {
                "file": row.file_sha256[:12],
                "line": str(row.line),
                "receivable_id": row.receivable_id,
                "rule": row.rule,
                "detail": row.detail,
            }
            for row in rows
        ]
