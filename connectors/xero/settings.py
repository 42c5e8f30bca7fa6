"""The ``[xero]`` settings section: the Xero app this installation runs as."""

from __future__ import annotations

from pydantic import Field, SecretStr

from connectors.platform import PlatformSettings

__all__ = ["XeroSettings"]


class XeroSettings(PlatformSettings):
    """The Xero app this installation runs as, and where Xero is (the emulator, in tests)."""

    client_id: str | None = Field(default=None, description="Xero app client id.")
    client_secret: SecretStr | None = Field(default=None, description="Xero app secret.")
    webhook_key: SecretStr | None = Field(
        default=None, description="Webhook signing key (signs x-xero-signature)."
    )
    redirect_uri: str = "http://127.0.0.1:8080/callback/xero"
    scopes: str = Field(
        default="offline_access accounting.transactions accounting.contacts",
        description="OAuth scopes asked for (granular scopes for apps made after March 2026).",
    )
    login_url: str = Field(
        default="https://login.xero.com",
        description="Where the consent page is (…/identity/connect/authorize).",
    )
    identity_url: str = Field(
        default="https://identity.xero.com",
        description="Where tokens are traded and revoked (…/connect/token, …/connect/revocation).",
    )
    api_url: str = Field(
        default="https://api.xero.com",
        description="Xero's API host (…/connections, …/api.xro/2.0).",
    )
    calls_per_minute: int = Field(
        default=60, ge=1, le=100_000, description="Calls per minute to one organisation (Xero: 60)."
    )
    concurrent_calls: int = Field(
        default=5, ge=1, le=100, description="Calls at once to one organisation (Xero: 5)."
    )
    max_retry_after_s: float = Field(
        default=60.0,
        ge=0,
        description="The longest Retry-After a call waits out; longer ones fail it for later.",
    )
    timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one call to Xero.")
    accounts: dict[str, str] = Field(
        default={
            "cash": "090",
            "accounts_receivable": "610",
            "allowance_for_doubtful_accounts": "611",
            "loss_on_sale_of_receivables": "480",
            "due_to_buyer": "820",
        },
        description="Xero account codes for forwardflow's journal roles.",
    )
