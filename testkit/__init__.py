"""Test helpers as public API: service checks that fail under CI, fakes, real servers."""

from testkit.services import (
    EXTERNAL_NATS_URL_ENV,
    POSTGRES_URL_ENV,
    ServiceUnavailableError,
    external_nats_url,
    gpg_binary,
    in_ci,
    postgres_url,
    require,
    sshd_binary,
)

__all__ = [
    "EXTERNAL_NATS_URL_ENV",
    "POSTGRES_URL_ENV",
    "ServiceUnavailableError",
    "external_nats_url",
    "gpg_binary",
    "in_ci",
    "postgres_url",
    "require",
    "sshd_binary",
]
