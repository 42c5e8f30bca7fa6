"""Buyers' put-back files: fetch from the buyer's inbound folder, apply, answer, move aside."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath

import paramiko
from pysequoia import Tsk, decrypt

from debtsale.agreement import Agreement
from debtsale.commands import RequestPutback
from debtsale.errors import DomainError
from forwardflow.bootstrap import Forwardflow
from forwardflow.delivery import buyer_keys, delivery_terms
from handlers.registry import handle_command
from sftp.connection import SftpEndpoint, open_sftp
from sftp.names import UnsafeNameError, safe_name
from sftp.putback_files import PutbackLine, parse_request_file, result_csv

__all__ = ["InboxResult", "process_buyer_inbox"]

log = logging.getLogger("forwardflow.inbound")

_MAX_BYTES = 10 * 1024 * 1024
_SUFFIXES = (".csv", ".csv.pgp", ".csv.gpg")


@dataclass
class InboxResult:
    """One request file and what became of each of its lines."""

    name: str
    rows: list[dict[str, str]] = field(default_factory=list)
    rejected_whole: bool = False


def _command(
    agreement: Agreement, file_id: str, stem: str, line: PutbackLine, cutoff: date
) -> RequestPutback:
    required = agreement.putback.evidence.get(line.reason, ())
    evidence = dict.fromkeys(required, line.evidence_reference) or (
        {"reference": line.evidence_reference} if line.evidence_reference else {}
    )
    return RequestPutback(
        command_id=f"inbound:{file_id}:{line.line}",
        portfolio_id=line.portfolio_id,
        request_id=f"{stem}-L{line.line}",
        receivable_id=line.receivable_id,
        reason=line.reason,
        fact_date=line.fact_date or cutoff,
        requested_on=line.requested_on,
        evidence=evidence,
    )


def _apply(app: Forwardflow, agreement: Agreement, name: str, data: bytes) -> InboxResult:
    result = InboxResult(name)
    lines, problems = parse_request_file(data)
    if problems:
        result.rejected_whole = True
        result.rows = [
            {
                "line": str(p.line),
                "status": "rejected",
                "rule": "file.malformed",
                "detail": p.problem,
            }
            for p in problems
        ]
        return result
    file_id = hashlib.sha256(data).hexdigest()[:16]
    stem = name.split(".", 1)[0]
    for line in lines:
        row = {
            "line": str(line.line),
            "portfolio_id": line.portfolio_id,
            "receivable_id": line.receivable_id,
        }
        try:
            with app.unit_of_work() as uow:
                portfolio = uow.portfolios.get(line.portfolio_id)
            if portfolio is None or portfolio.agreement_id != agreement.id:
                raise DomainError(
                    "putback.portfolio", f"no portfolio {line.portfolio_id} sold to this buyer"
                )
            command = _command(agreement, file_id, stem, line, portfolio.cutoff)
            handle_command(app.unit_of_work(), command)
            with app.unit_of_work() as uow:
                stored = uow.portfolios.get(line.portfolio_id)
            assert stored is not None
            decision = stored.putbacks[command.request_id].decision
            row.update(
                request_id=command.request_id,
                status=decision.status.value,
                rule=decision.rule or "",
                detail=decision.detail,
            )
        except DomainError as error:
            row.update(status="rejected", rule=error.rule, detail=str(error))
        result.rows.append(row)
    return result


def _read(client: paramiko.SFTPClient, path: str, seller: Tsk) -> bytes:
    if (client.stat(path).st_size or 0) > _MAX_BYTES:
        raise DomainError("inbound.size", f"{path} is over {_MAX_BYTES} bytes")
    with client.open(path, "rb") as handle:
        data = handle.read()
    if path.endswith((".pgp", ".gpg")):
        try:
            data = decrypt(data, decryptor=seller.decryptor()).bytes or b""
        except Exception as error:  # pysequoia raises plain exceptions for bad input
            raise DomainError("inbound.decrypt", f"cannot decrypt {path}: {error}") from None
    return data


def _put(client: paramiko.SFTPClient, path: str, data: bytes) -> None:
    partial = f"{path}.part"
    with client.open(partial, "wb") as handle:
        handle.write(data)
    client.posix_rename(partial, path)


def process_buyer_inbox(app: Forwardflow, agreement_id: str) -> list[InboxResult]:
    """Apply every request file waiting in the buyer's inbound folder; answer each one."""
    with app.unit_of_work() as uow:
        agreement = uow.agreements.get(agreement_id)
    terms = delivery_terms(agreement)
    keys = buyer_keys(app, terms)
    seller = Tsk.from_file(str(keys.seller_key))
    endpoint = SftpEndpoint(terms.host, terms.port, terms.username, terms.host_key, keys.ssh_key)
    inbound, outbound = terms.inbound_directory, terms.outbound_directory
    results = []
    with open_sftp(endpoint) as client:
        for folder in (f"{inbound}/processed", outbound):
            try:
                client.stat(folder)
            except FileNotFoundError:
                client.mkdir(folder)
        for name in sorted(client.listdir(inbound)):
            if name.startswith(".") or name == "processed" or not name.endswith(_SUFFIXES):
                continue
            try:
                safe_name(name)
            except UnsafeNameError:
                log.warning("refused a request file with an unsafe name")
                continue
            path = str(PurePosixPath(inbound) / name)
            try:
                data = _read(client, path, seller)
                result = _apply(app, agreement, name, data)
            except DomainError as error:
                result = InboxResult(
                    name,
                    [{"line": "0", "status": "rejected", "rule": error.rule, "detail": str(error)}],
                    True,
                )
            _put(client, f"{outbound}/{name}.result.csv", result_csv(result.rows))
            client.posix_rename(path, f"{inbound}/processed/{name}")
            log.info(
                "processed request file lines=%d rejected_whole=%s",
                len(result.rows),
                result.rejected_whole,
            )
            results.append(result)
    return results
