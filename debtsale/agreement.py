"""Sale agreements: the terms with one buyer, loaded from TOML and validated with pydantic."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from debtsale.calendar import add_months
from debtsale.errors import DomainError
from debtsale.lifecycle import ExclusionReason
from debtsale.money import MINOR_UNITS, Money
from debtsale.salefields import DEFAULT_COLUMNS, FIELDS, LAYOUT_VERSIONS, fields_of

__all__ = [
    "SALE_FILE_FIELDS",
    "Agreement",
    "AgreementKind",
    "CutoffPolicy",
    "DeliveryTerms",
    "FileLayout",
    "Granularity",
    "OpenPgpProfile",
    "Period",
    "PutbackReason",
    "PutbackTerms",
    "RateCardEntry",
    "RefundMethod",
    "RemittanceTerms",
    "Trigger",
    "UploadStrategy",
]


def _no_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError(f"{value!r} is a float; write amounts and rates as strings or decimals")
    return value


Amount = Annotated[Decimal, BeforeValidator(_no_float)]
RateValue = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgreementKind(StrEnum):
    """A one-off sale or a standing forward flow."""

    SPOT = "spot"
    FORWARD_FLOW = "forward_flow"


class Period(StrEnum):
    """How often a forward flow cuts a tranche."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class CutoffPolicy(StrEnum):
    """What a payment between cut-off and closing does (DOMAIN rule 3)."""

    REDUCE_FACE = "reduce_face"
    REMOVE_IF_PAID = "remove_if_paid"
    REMIT = "remit"


class RefundMethod(StrEnum):
    """How a put-back refund is computed (DOMAIN rule 6)."""

    PRICE = "price"
    PRICE_LESS_COLLECTIONS = "price_less_collections"


class PutbackReason(StrEnum):
    """Why a buyer returns a receivable."""

    PAID_BEFORE_SALE = "paid_before_sale"
    BANKRUPTCY = "bankruptcy"
    DECEASED = "deceased"
    FRAUD = "fraud"
    DISPUTE = "dispute"
    TIME_BARRED = "time_barred"
    NOT_DEBTOR = "not_debtor"
    DOCUMENTATION_MISSING = "documentation_missing"


ALWAYS_EXCLUDED = frozenset(
    {
        ExclusionReason.BANKRUPTCY,
        ExclusionReason.DECEASED_GUARANTOR,
        ExclusionReason.FRAUD,
        ExclusionReason.ACTIVE_DISPUTE,
        ExclusionReason.SETTLEMENT,
        ExclusionReason.PLACED_ELSEWHERE,
        ExclusionReason.TIME_BARRED,
    }
)


class Trigger(_Model):
    """Which receivables a sale takes."""

    min_days_past_due: int = Field(default=91, ge=0)
    min_balance: Amount = Decimal("0.01")
    max_balance: Amount | None = None
    exclude_customers: frozenset[str] = frozenset()
    allow_medical: bool = False
    near_expiry_months: int = Field(default=6, ge=0)

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.max_balance is not None and self.max_balance < self.min_balance:
            raise ValueError("max_balance is below min_balance")
        return self


class RateCardEntry(_Model):
    """The offer rate for a cohort; ``None`` criteria match anything."""

    age_bucket: str | None = None
    balance_tier: str | None = None
    documentation: str | None = None
    rate: RateValue


class PutbackTerms(_Model):
    """When and how a buyer may return a receivable (DOMAIN rules 5 and 6)."""

    window_days: int = Field(default=120, ge=1, le=365)
    allowed_reasons: frozenset[PutbackReason] = frozenset(PutbackReason)
    evidence: dict[PutbackReason, tuple[str, ...]] = Field(default_factory=dict)
    cap_percent: Annotated[Decimal, BeforeValidator(_no_float), Field(gt=0, le=100)] | None = None
    refund_method: RefundMethod = RefundMethod.PRICE
    replacement_allowed: bool = False


class RemittanceTerms(_Model):
    """How quickly payments received after the sale are passed on to the buyer."""

    days: int = Field(default=10, ge=0, le=90)
    holidays: frozenset[date] = frozenset()


SALE_FILE_FIELDS: tuple[str, ...] = tuple(FIELDS)
"""Every field a sale file may carry (``debtsale.salefields``); a layout selects some."""


class Granularity(StrEnum):
    """One sale-file row per invoice, or per account (customer) summing its invoices."""

    INVOICE = "invoice"
    ACCOUNT = "account"


class FileLayout(_Model):
    """The buyer's sale-file layout: exactly these columns, in this order.

    ``version`` names the field dictionary (docs/sale-file.md); without ``columns`` the
    version's default columns are sent. ``required`` makes more fields required than the
    dictionary does (a row without them stops the close); ``documents`` sends each sold
    invoice's PDF in an encrypted archive beside the file.
    """

    version: str = "2"
    columns: tuple[str, ...] = DEFAULT_COLUMNS["2"]
    tax_id_required: bool = False
    contacts_allowed: bool = False
    granularity: Granularity = Granularity.INVOICE
    required: tuple[str, ...] = ()
    documents: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_columns(cls, data: Any) -> Any:
        if isinstance(data, dict) and "columns" not in data:
            version = str(data.get("version", "2"))
            return {**data, "columns": DEFAULT_COLUMNS.get(version, ())}
        return data

    @model_validator(mode="after")
    def _known_columns(self) -> Self:
        if self.version not in LAYOUT_VERSIONS:
            raise ValueError(
                f"unknown layout version {self.version!r}; known: {', '.join(LAYOUT_VERSIONS)}"
            )
        known = fields_of(self.version)
        unknown = [c for c in self.columns if c not in known]
        if unknown:
            raise ValueError(
                f"unknown sale-file columns {unknown} for layout version {self.version}; "
                f"known: {tuple(known)}"
            )
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("a column appears twice in the layout")
        if "tax_id" in self.columns and not self.tax_id_required:
            raise ValueError(
                "tax_id is sent only where the agreement requires it: "
                "set tax_id_required = true or drop the column"
            )
        if "contact" in self.columns and not self.contacts_allowed:
            raise ValueError(
                "contact is sent only where the agreement allows it: "
                "set contacts_allowed = true or drop the column"
            )
        missing = [c for c in self.required if c not in self.columns]
        if missing:
            raise ValueError(f"required fields {missing} are not among the columns")
        return self


class UploadStrategy(StrEnum):
    """How a file becomes visible on the buyer's server."""

    TEMP_RENAME = "temp_rename"  # upload to a temporary name, then rename (atomic)
    DIRECT = "direct"  # write the final name directly (servers that forbid rename)
    DIRECT_PLUS_DONE_FILE = "direct_plus_done_file"  # direct, then an empty NAME.done


class OpenPgpProfile(StrEnum):
    """Which OpenPGP the buyer's tools read."""

    RFC4880 = "rfc4880"  # gpg 2.2/2.4: SEIPD v1; a certificate asking for more is refused
    RFC9580 = "rfc9580"  # Sequoia sq, gpg 2.5+: SEIPD v2 as the certificate advertises


_SAFE_NAME = r"^[A-Za-z0-9{}][A-Za-z0-9{}._-]*$"


class DeliveryTerms(_Model):
    """Where and how the sale file goes: the buyer's SFTP server, pinned, and its habits."""

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    host_key: str = Field(
        description="known_hosts line of the buyer's server, or its SHA256:… fingerprint"
    )
    directory: str = "incoming"
    name_template: str = Field(
        default="{portfolio_id}-{closing}.csv.pgp", pattern=_SAFE_NAME, max_length=200
    )
    strategy: UploadStrategy = UploadStrategy.TEMP_RENAME
    manifest_first: bool = False
    armor: bool = False
    openpgp: OpenPgpProfile = OpenPgpProfile.RFC4880
    buyer_certificate: str = Field(description="the buyer's OpenPGP certificate file")
    inbound_directory: str = "putbacks"
    outbound_directory: str = "results"

    @property
    def reads_rfc9580(self) -> bool:
        """True when the buyer opens RFC 9580 files (SEIPD v2), not only what gpg 2.2 reads."""
        return self.openpgp is OpenPgpProfile.RFC9580

    @model_validator(mode="after")
    def _relative_paths(self) -> Self:
        for name in ("directory", "inbound_directory", "outbound_directory"):
            value: str = getattr(self, name)
            if value.startswith("/") or ".." in value.split("/"):
                raise ValueError(f"{name} must be relative and stay below the login directory")
        return self


class Seller(_Model):
    """The original creditor as the sale file names it."""

    name: str
    address: str = ""


class Agreement(_Model):
    """All terms of one sale agreement with one buyer."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    buyer: str
    kind: AgreementKind = AgreementKind.SPOT
    currency: str = "USD"
    seller: Seller
    period: Period | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    tenant: str | None = None  # the company a forward flow sells from, for the scheduler
    closing_business_days: int = Field(default=10, ge=0, le=60)  # a tranche's cut-off → close
    trigger: Trigger = Trigger()
    rate_card: tuple[RateCardEntry, ...] = Field(min_length=1)
    default_rate: RateValue | None = None
    cutoff_policy: CutoffPolicy = CutoffPolicy.REDUCE_FACE
    putback: PutbackTerms = PutbackTerms()
    remittance: RemittanceTerms = RemittanceTerms()
    file: FileLayout = FileLayout()
    delivery: DeliveryTerms | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"unknown currency {self.currency!r}")
        if self.kind is AgreementKind.FORWARD_FLOW and self.period is None:
            raise ValueError("a forward_flow agreement needs a period (monthly or quarterly)")
        if self.kind is AgreementKind.FORWARD_FLOW and not (self.starts_on and self.tenant):
            raise ValueError("a forward_flow agreement needs starts_on and tenant (the company)")
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self

    @classmethod
    def from_toml(cls, text: str) -> Agreement:
        """Parse and validate an agreement; numbers in TOML are read as exact decimals."""
        try:
            data: dict[str, Any] = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as error:
            raise DomainError("agreement.toml", f"not valid TOML: {error}") from None
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Agreement:
        """Validate parsed data; every problem is named by its dotted field."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(agreement)'}: {e['msg']}"
                for e in error.errors()
            )
            raise DomainError("agreement.invalid", problems) from None

    def rate_for(self, age_bucket: str, balance_tier: str, documentation: str) -> Decimal | None:
        """The first rate-card rate matching the cohort, else the default rate (or None)."""
        for entry in self.rate_card:
            if (
                entry.age_bucket in (None, age_bucket)
                and entry.balance_tier in (None, balance_tier)
                and entry.documentation in (None, documentation)
            ):
                return entry.rate
        return self.default_rate

    def tranche_cutoffs(self, until: date) -> list[date]:
        """Cut-off dates of a forward flow's tranches from ``starts_on`` up to ``until``.

        Each period ends on its last day (monthly: month ends; quarterly: quarter ends);
        ``ends_on`` stops the flow. A spot agreement has no tranches.
        """
        if self.kind is not AgreementKind.FORWARD_FLOW or self.starts_on is None:
            return []
        last = min(until, self.ends_on) if self.ends_on else until
        cutoffs = []
        month = self.starts_on.replace(day=1)
        while (end := add_months(month, 1) - timedelta(days=1)) <= last:
            if self.period is Period.MONTHLY or end.month % 3 == 0:
                cutoffs.append(end)
            month = add_months(month, 1)
        return cutoffs

    def in_balance_range(self, face: Money) -> bool:
        """True when ``face`` lies within the trigger's balance range."""
        if face.amount < self.trigger.min_balance:
            return False
        return self.trigger.max_balance is None or face.amount <= self.trigger.max_balance


def sample_agreement_text() -> str:
    """The TOML of the sample agreement shipped with forwardflow (a template to copy)."""
    path = resources.files("debtsale.data").joinpath("sample_agreement.toml")
    return path.read_text(encoding="utf-8")
