"""The ``[quickbooks]`` settings section: the Intuit app this installation runs as."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from connectors.platform import PlatformSettings

__all__ = ["QuickBooksSettings"]


class QuickBooksSettings(PlatformSettings):
    """The QuickBooks Online app this installation runs as."""

    sample_fields: ClassVar[tuple[str, ...]] = ("accounts", "redirect_uri")

    client_id: str | None = Field(default=None, description="Intuit app client id.")
    client_secret: SecretStr | None = Field(default=None, description="Intuit app secret.")
    verifier_token: SecretStr | None = Field(
        default=None, description="Webhook verifier token (signs intuit-signature)."
    )
    environment: Literal["sandbox", "production"] = "sandbox"
    redirect_uri: str = "http://127.0.0.1:8080/callback/quickbooks"
    api_base_url: str | None = Field(
        default=None, description="Override of the v3 API base URL (the emulator's, in tests)."
    )
    discovery_url: str | None = Field(
        default=None,
        description="Override of Intuit's OpenID discovery document (the emulator's).",
    )
    minor_version: int = Field(default=75, ge=75)
    calls_per_minute: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Calls per minute to one company (Intuit allows 500); raise it only "
        "against the emulator.",
    )
    backfill_page_size: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="Rows per query page in a backfill (QuickBooks answers at most 1,000).",
    )
    backfill_workers: int = Field(
        default=8,
        ge=1,
        le=10,
        description="Backfill reads at once (Intuit allows 10 concurrent calls per company).",
    )
    accounts: dict[str, str] = Field(
        default={
            "cash": "35",
            "accounts_receivable": "84",
            "allowance_for_doubtful_accounts": "85",
            "loss_on_sale_of_receivables": "90",
            "due_to_buyer": "91",
        },
        description="QuickBooks account ids for forwardflow's journal-entry roles.",
    )

    def in_production(self) -> bool:
        """True with ``environment = "production"`` (real companies' books)."""
        return self.environment == "production"
