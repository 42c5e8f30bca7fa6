"""Delivering a closed portfolio: the store and settings meet the sftp adapter here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from debtsale.agreement import Agreement, DeliveryTerms
from debtsale.errors import DomainError
from debtsale.portfolio import Portfolio
from debtsale.salefile import sale_file_header, sale_file_rows, totals_of
from forwardflow.bootstrap import Forwardflow
from sftp.connection import SftpEndpoint
from sftp.deliver import DeliveryError, Receipt, SaleFile, TotalsMismatchError, deliver, prepare
from sftp.keys import ensure_ssh_key
from sftp.names import UnsafeNameError
from sftp.openpgp import certificate_fingerprint, ensure_seller_key, seller_certificate

__all__ = [
    "FINAL_DELIVERY_ERRORS",
    "BuyerKeys",
    "DeliveryFailedError",
    "DeliveryRefusedError",
    "buyer_keys",
    "deliver_portfolio",
    "delivery_terms",
]


class DeliveryRefusedError(DeliveryError):
    """A failure no retry can fix: an operator must act (wrong pin, key, file, numbers)."""


class DeliveryFailedError(DeliveryError):
    """Every attempt failed on transient errors; worth trying again later."""


FINAL_DELIVERY_ERRORS: tuple[type[Exception], ...] = (
    DeliveryRefusedError,
    TotalsMismatchError,
    UnsafeNameError,
)
"""Raised by a delivery that must not be retried automatically."""


@dataclass(frozen=True, slots=True)
class BuyerKeys:
    """The key material of one buyer relationship, with what to show an operator."""

    seller_key: Path
    seller_certificate: Path  # the public part, to give the buyer for verifying signatures
    seller_fingerprint: str
    ssh_key: Path
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
    """Our keys (made on first use) and the buyer's certificate, with fingerprints."""
    settings = app.settings.delivery
    seller = _in_data_dir(app, settings.seller_key, "keys/seller.pgp")
    ssh = _in_data_dir(app, settings.ssh_key, "keys/ssh_ed25519")
    certificate = _in_data_dir(app, None, terms.buyer_certificate)
    fingerprint = ensure_seller_key(seller, settings.seller_user_id)
    public = seller.with_suffix(".asc")
    if not public.exists():
        public.write_text(seller_certificate(seller), encoding="utf-8")
    return BuyerKeys(
        seller_key=seller,
        seller_certificate=public,
        seller_fingerprint=fingerprint,
        ssh_key=ssh,
        ssh_public=ensure_ssh_key(ssh),
        buyer_certificate=certificate,
        buyer_fingerprint=certificate_fingerprint(certificate) if certificate.exists() else None,
    )


def _sale_file(app: Forwardflow, portfolio: Portfolio, agreement: Agreement) -> SaleFile:
    if portfolio.closing is None:
        raise DomainError("delivery.closed", f"portfolio {portfolio.id} is not closed yet")
    with app.unit_of_work() as uow:
        ledger = uow.ledger.load(portfolio.tenant)
    return SaleFile(
        portfolio_id=portfolio.id,
        agreement_id=agreement.id,
        cutoff=portfolio.cutoff,
        closing=portfolio.closing,
        layout_version=agreement.file.version,
        header=sale_file_header(agreement),
        rows=sale_file_rows(portfolio, ledger, agreement),
        expected=totals_of(portfolio),
    )


def deliver_portfolio(
    app: Forwardflow, portfolio_id: str, progress: Callable[[int, int], None] | None = None
) -> Receipt:
    """Build, encrypt (once) and upload the sale file; store and return the receipt.

    ``progress(done, total)`` is called with ciphertext bytes as they are sent. A final
    failure raises one of FINAL_DELIVERY_ERRORS; exhausted retries DeliveryFailedError.
    """
    with app.unit_of_work() as uow:
        portfolio = uow.portfolios.get(portfolio_id)
        if portfolio is None:
            raise DomainError("portfolio.known", f"no portfolio {portfolio_id}")
        agreement = uow.agreements.get(portfolio.agreement_id)
    terms = delivery_terms(agreement)
    keys = buyer_keys(app, terms)
    if keys.buyer_fingerprint is None:
        raise DomainError(
            "delivery.buyer_certificate",
            f"the buyer's certificate {keys.buyer_certificate} is missing",
        )
    folder = app.settings.data_dir / "outgoing" / portfolio.id
    prepared = prepare(
        _sale_file(app, portfolio, agreement),
        terms,
        folder,
        buyer_certificate=keys.buyer_certificate,
        seller_key=keys.seller_key,
    )
    sent = 0

    def advance(count: int) -> None:
        nonlocal sent
        sent += count
        if progress:
            progress(sent, prepared.ciphertext.size)

    endpoint = SftpEndpoint(terms.host, terms.port, terms.username, terms.host_key, keys.ssh_key)
    receipt = deliver(
        prepared,
        terms,
        endpoint,
        portfolio_id=portfolio.id,
        attempts=app.settings.delivery.attempts,
        progress=advance,
    )
    with app.unit_of_work() as uow:
        uow.deliveries.record(agreement.id, receipt.as_data())
        uow.commit()
    if receipt.status != "delivered":
        final = next(
            (e for e in FINAL_DELIVERY_ERRORS if receipt.error.startswith(e.__name__)), None
        )
        raise (final or DeliveryFailedError)(receipt.error)
    return receipt
