"""Delivering a closed portfolio: the store and settings meet the sftp adapter here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from debtsale.agreement import Agreement, DeliveryTerms
from debtsale.errors import DomainError
from debtsale.salefields import table_schema
from debtsale.salefile import (
    Parties,
    SaleFileSummary,
    sale_file_summary,
    sold_rows,
    tie_out_problems,
)
from forwardflow.bootstrap import Forwardflow
from forwardflow.keystore import sealed_key
from forwardflow.store import reading
from forwardflow.store.salefiles import SqlSaleFileStore
from sftp.companions import DocumentRequest
from sftp.connection import SftpEndpoint
from sftp.deliver import DeliveryError, Receipt, SaleFile, TotalsMismatchError, deliver_sale
from sftp.documents import DocumentRefusedError
from sftp.keys import SshKey, load_ssh_key, new_ssh_key, public_line
from sftp.names import UnsafeNameError
from sftp.openpgp import (
    EncryptionError,
    UnreadableForBuyerError,
    certificate_fingerprint,
    new_seller_key,
    seller_certificate,
    seller_fingerprint,
)

__all__ = [
    "FINAL_DELIVERY_ERRORS",
    "BuyerKeys",
    "DeliveryFailedError",
    "DeliveryRefusedError",
    "buyer_keys",
    "deliver_portfolio",
    "delivery_terms",
    "recorded_sale_file",
]


class DeliveryRefusedError(DeliveryError):
    """A failure no retry can fix: an operator must act (wrong pin, key, file, numbers)."""


class DeliveryFailedError(DeliveryError):
    """Every attempt failed on transient errors; worth trying again later."""


FINAL_DELIVERY_ERRORS: tuple[type[Exception], ...] = (
    DeliveryRefusedError,
    TotalsMismatchError,
    UnsafeNameError,
    UnreadableForBuyerError,
    EncryptionError,
    DocumentRefusedError,
)
"""Raised by a delivery that must not be retried automatically."""


@dataclass(frozen=True, slots=True)
class BuyerKeys:
    """The key material of one buyer relationship, with what to show an operator.

    The secret keys are sealed at rest (``forwardflow.keystore``); ``seller_secret`` and
    ``ssh_key`` are the unsealed keys, in memory only.
    """

    seller_key_file: Path
    seller_secret: bytes = field(repr=False)
    seller_certificate: Path  # the public part, to give the buyer for verifying signatures
    seller_fingerprint: str
    ssh_key_file: Path
    ssh_key: SshKey = field(repr=False)
    ssh_public: str
    buyer_certificate: Path
    buyer_fingerprint: str | None


def _in_data_dir(app: Forwardflow, configured: Path | None, default: str) -> Path:
    path = configured or Path(default)
    return path if path.is_absolute() else app.settings.data_dir / path


def delivery_terms(agreement: Agreement) -> DeliveryTerms:
    """The agreement's delivery section; an agreement without one cannot be delivered."""
    if agreement.delivery is None:
        raise DomainError(
            "delivery.configured", f"agreement {agreement.id} has no [delivery] section"
        )
    return agreement.delivery


def buyer_keys(app: Forwardflow, terms: DeliveryTerms) -> BuyerKeys:
    """Our keys (made and sealed on first use) and the buyer's certificate, with fingerprints."""
    settings = app.settings.delivery
    seller = _in_data_dir(app, settings.seller_key, "keys/seller.pgp")
    ssh = _in_data_dir(app, settings.ssh_key, "keys/ssh_ed25519")
    certificate = _in_data_dir(app, None, terms.buyer_certificate)
    secret = sealed_key(
        app.settings, seller, "seller", lambda: new_seller_key(settings.seller_user_id)
    )
    public = seller.with_suffix(".asc")
    if not public.exists():
        public.write_text(seller_certificate(secret), encoding="utf-8")
    ssh_private = sealed_key(app.settings, ssh, "ssh", new_ssh_key)
    ssh_public = ssh.with_name(ssh.name + ".pub")
    if not ssh_public.exists():
        ssh_public.write_text(public_line(ssh_private) + "\n", encoding="utf-8")
    return BuyerKeys(
        seller_key_file=seller,
        seller_secret=secret,
        seller_certificate=public,
        seller_fingerprint=seller_fingerprint(secret),
        ssh_key_file=ssh,
        ssh_key=load_ssh_key(ssh_private),
        ssh_public=ssh_public.read_text(encoding="utf-8").strip(),
        buyer_certificate=certificate,
        buyer_fingerprint=certificate_fingerprint(certificate) if certificate.exists() else None,
    )


def recorded_sale_file(app: Forwardflow, portfolio_id: str) -> SaleFileSummary:
    """The sale file's summary, recorded at the close (or now, for a sale closed before)."""
    with app.unit_of_work() as uow:
        summary = uow.sale_files.summary(portfolio_id)
        if summary is not None:
            return summary
        portfolio = uow.portfolios.get(portfolio_id)
        if portfolio is None:
            raise DomainError("portfolio.known", f"no portfolio {portfolio_id}")
        if portfolio.closing is None:
            raise DomainError("delivery.closed", f"portfolio {portfolio.id} is not closed yet")
        # closed before sale files were recorded (store revision 0006 or older)
        agreement = uow.agreements.get(portfolio.agreement_id)
        summary = sale_file_summary(portfolio, agreement)
        ledger = uow.ledger.load(portfolio.tenant)
        uow.sale_files.record(summary, sold_rows(portfolio, ledger, agreement))
        uow.commit()
        return summary


def _tie_out(summary: SaleFileSummary, records: int, face: int, price: int) -> None:
    """The recorded rows add up to the reconciliation, or nothing is built or sent."""
    if problems := tie_out_problems(summary.totals, records, face, price):
        raise TotalsMismatchError(
            f"the recorded sale file of {summary.portfolio_id} does not tie out to the "
            "reconciliation: " + "; ".join(problems)
        )


def _documents(app: Forwardflow, summary: SaleFileSummary) -> DocumentRequest | None:
    """The receivables whose invoice PDFs go in the archive, when the agreement sends them.

    The sold receivables are read from the portfolio (they do not change after the close).
    """
    if not summary.documents:
        return None
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(summary.portfolio_id)
    ids = [line.receivable_id for line in portfolio.sold_lines()] if portfolio else []
    return DocumentRequest(summary.tenant, ids, app.documents)


def _parties(summary: SaleFileSummary, agreement: Agreement) -> Parties:
    if summary.parties is not None:
        return summary.parties
    return Parties(agreement.seller.name, agreement.seller.address, agreement.buyer)


def deliver_portfolio(
    app: Forwardflow,
    portfolio_id: str,
    progress: Callable[[int, int | None], None] | None = None,
) -> Receipt:
    """Build, encrypt (once) and upload the sale file; store and return the receipt.

    The rows stream from the store, so memory stays flat however large the sale.
    ``progress(done, total)`` is called with ciphertext bytes as they are sent (total is
    None while the file is still being made). A final
    failure raises one of FINAL_DELIVERY_ERRORS; exhausted retries DeliveryFailedError.
    """
    summary = recorded_sale_file(app, portfolio_id)
    with app.unit_of_work() as uow:
        agreement = uow.agreements.get(summary.agreement_id)
    terms = delivery_terms(agreement)
    keys = buyer_keys(app, terms)
    if keys.buyer_fingerprint is None:
        raise DomainError(
            "delivery.buyer_certificate",
            f"the buyer's certificate {keys.buyer_certificate} is missing",
        )
    folder = app.settings.data_dir / "outgoing" / summary.portfolio_id
    endpoint = SftpEndpoint(terms.host, terms.port, terms.username, terms.host_key, keys.ssh_key)
    sent = 0

    def advance(count: int) -> None:
        nonlocal sent
        sent += count
        if progress:
            progress(sent, None)  # the ciphertext's size is known only once it is made

    with reading(app.engine) as connection:
        store = SqlSaleFileStore(connection)
        _tie_out(summary, *store.counted(summary.portfolio_id))  # before any byte is built
        sale = SaleFile(
            portfolio_id=summary.portfolio_id,
            agreement_id=summary.agreement_id,
            cutoff=summary.cutoff,
            closing=summary.closing,
            layout_version=summary.layout_version,
            header=list(summary.header),
            chunks=store.chunks(summary.portfolio_id),
            expected=summary.totals,
            parties=_parties(summary, agreement),
            # a file recorded before layout v2 gets the schema of its own layout
            schema=summary.schema or table_schema(summary.layout_version, summary.header),
            granularity=summary.granularity,
            receivables=summary.receivables,
            documents=_documents(app, summary),
        )
        _, receipt = deliver_sale(
            sale,
            terms,
            folder,
            endpoint,
            buyer_certificate=keys.buyer_certificate,
            seller_key=keys.seller_secret,
            attempts=app.settings.delivery.attempts,
            progress=advance,
        )
    with app.unit_of_work() as uow:
        uow.deliveries.record(summary.agreement_id, receipt.as_data())
        uow.commit()
    if receipt.status != "delivered":
        raise (DeliveryRefusedError if receipt.kind.final else DeliveryFailedError)(receipt.error)
    return receipt
