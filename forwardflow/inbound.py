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
import stat
import time
from dataclasses import dataclass, field
from datetime import date

import paramiko
from pysequoia import Tsk, decrypt
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
from sftp.connection import SftpEndpoint, open_sftp
from sftp.putback_files import PutbackLine, name_problem, parse_request_file, result_csv

__all__ = ["MAX_FILE_BYTES", "InboxResult", "process_buyer_inbox", "refused_lines"]

log = logging.getLogger("forwardflow.inbound")

MAX_FILE_BYTES = 10 * 1024 * 1024
_TEMPORARY = (".part", ".tmp", ".filepart")
_STALE_S = 15 * 60
_PROCESSED = "processed"
_DOCUMENTS = DOCUMENTS_FOLDER  # the buyer's documents beside its requests, named by them


@dataclass
class InboxResult:
    """One request file and what became of each of its lines."""

    name: str
    rows: list[dict[str, str]] = field(default_factory=list)
    rejected_whole: bool = False
    answer: str = ""  # where the answer was written, in the buyer's outbound folder
    moved_to: str = ""  # where the file was moved, in the buyer's inbound folder
    repeated: bool = False  # the same bytes were answered before


class _EntryRefusedError(Exception):
    """An entry answered as a whole with one rule: moved aside, never applied."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


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


def _exists(client: paramiko.SFTPClient, path: str) -> bool:
    try:
        client.lstat(path)
    except FileNotFoundError:
        return False
    return True


def _free_name(
    client: paramiko.SFTPClient, folder: str, name: str, tag: str, suffix: str = ""
) -> str:
    """``folder/name+suffix``, or with the tag (and a counter) before the suffix if taken."""
    candidates = [f"{name}{suffix}", f"{name}.{tag}{suffix}"] + [
        f"{name}.{tag}-{n}{suffix}" for n in range(2, 100)
    ]
    for candidate in candidates:
        if not _exists(client, f"{folder}/{candidate}"):
            return f"{folder}/{candidate}"
    raise OSError(f"no free name for {name} in {folder}")


def _put(client: paramiko.SFTPClient, folder: str, name: str, tag: str, data: bytes) -> str:
    """Write an answer (``name.result.csv``) under a name nobody holds (never overwriting)."""
    target = _free_name(client, folder, name, tag, ".result.csv")
    partial = f"{target}.part"
    with client.open(partial, "wb") as handle:
        handle.write(data)
    client.rename(partial, target)  # SSH_FXP_RENAME: fails rather than overwrite
    return target


def _move_aside(client: paramiko.SFTPClient, inbound: str, name: str, tag: str) -> str:
    target = _free_name(client, f"{inbound}/{_PROCESSED}", name, tag)
    client.rename(f"{inbound}/{name}", target)  # moves a link or folder itself, never its target
    return target


def _read(client: paramiko.SFTPClient, path: str, seller: Tsk | None) -> bytes:
    """A regular file's bytes (decrypted when ``.pgp``/``.gpg``), within the size limit."""
    before = client.lstat(path)
    if not stat.S_ISREG(before.st_mode or 0):
        raise _EntryRefusedError(
            "inbound.not_a_file", "only regular files are read (not links or folders)"
        )
    if (before.st_size or 0) > MAX_FILE_BYTES:
        raise _EntryRefusedError("inbound.size", f"the file is over {MAX_FILE_BYTES:,} bytes")
    with client.open(path, "rb") as handle:
        opened = handle.stat()
        if not stat.S_ISREG(opened.st_mode or 0) or opened.st_size != before.st_size:
            raise _EntryRefusedError(
                "inbound.changed", "the file changed while it was read; send it again"
            )
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _EntryRefusedError("inbound.size", f"the file is over {MAX_FILE_BYTES:,} bytes")
    if path.lower().endswith((".pgp", ".gpg")):
        if seller is None:
            raise _EntryRefusedError("inbound.decrypt", "no seller key to decrypt with")
        try:
            data = decrypt(data, decryptor=seller.decryptor()).bytes or b""
        except Exception:  # pysequoia raises plain exceptions for bad input
            raise _EntryRefusedError(
                "inbound.decrypt", "the file does not decrypt with our key"
            ) from None
    return data


def _documents(
    app: Forwardflow,
    client: paramiko.SFTPClient,
    agreement: Agreement,
    inbound: str,
    data: bytes,
    seller: Tsk | None,
) -> dict[str, str]:
    """The documents the file's lines name, read from ``documents/`` and kept (by hash)."""
    lines, _ = parse_request_file(data)
    keep = app.settings.data_dir / "inbound" / agreement.id / DOCUMENTS_FOLDER
    try:
        return collect_documents(
            (d for line in lines for d in line.documents),
            lambda path: _read(client, path, seller),
            inbound,
            keep,
        )
    except MissingDocumentError as missing:
        raise _EntryRefusedError("inbound.documents", str(missing)) from None


def _waiting(entry: paramiko.SFTPAttributes, now: float) -> bool:
    """An upload possibly still in progress: a temporary name, changed recently."""
    name = entry.filename
    temporary = name.startswith(".") or name.lower().endswith(_TEMPORARY)
    return temporary and now - (entry.st_mtime or 0) < _STALE_S


def _handle(
    app: Forwardflow,
    client: paramiko.SFTPClient,
    agreement: Agreement,
    seller: Tsk | None,
    entry: paramiko.SFTPAttributes,
    folders: tuple[str, str],
) -> InboxResult:
    """One inbox entry, start to end: read, apply or refuse, answer, move aside."""
    inbound, outbound = folders
    name = entry.filename
    problem = name_problem(name)
    answer_name = name
    tag = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    if problem is not None:
        answer_name = f"refused-{tag}"
    result = InboxResult(name)
    body: bytes
    try:
        if problem is not None:
            raise _EntryRefusedError(
                "inbound.name", f"the file name {_short(name)!r} is refused: {problem}"
            )
        data = _read(client, f"{inbound}/{name}", seller)
        digest = hashlib.sha256(data).hexdigest()
        tag = digest[:12]
        stored = _answered_before(app, agreement.id, digest)
        if stored is not None:
            result.repeated, body = True, stored
        else:
            documents = _documents(app, client, agreement, inbound, data, seller)
            result, body = _apply(app, agreement, name, digest, data, documents)
    except _EntryRefusedError as refused:
        result = InboxResult(name, [_whole(refused.rule, str(refused))], rejected_whole=True)
        body = result_csv(result.rows)
    except (OSError, paramiko.SSHException):
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
    result.answer = _put(client, outbound, answer_name, tag, body)
    result.moved_to = _move_aside(client, inbound, name, tag)
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
    seller = keys.seller_tsk()
    endpoint = SftpEndpoint(terms.host, terms.port, terms.username, terms.host_key, keys.ssh_key)
    inbound, outbound = terms.inbound_directory, terms.outbound_directory
    results = []
    with open_sftp(endpoint) as client:
        for folder in (f"{inbound}/{_PROCESSED}", outbound):
            if not _exists(client, folder):
                client.mkdir(folder)
        now = time.time()
        entries = sorted(client.listdir_attr(inbound), key=lambda e: e.filename)
        for entry in entries:
            if entry.filename in (".", "..", _PROCESSED, _DOCUMENTS) or _waiting(entry, now):
                continue
            results.append(_handle(app, client, agreement, seller, entry, (inbound, outbound)))
    return results


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
