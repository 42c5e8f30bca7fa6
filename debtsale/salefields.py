"""The sale file's field dictionary per layout version, as a Frictionless Table Schema.

Every field a sale file may carry is defined once here: its name, type, whether a row
without it may be sold, and what it means to the buyer. A layout version fixes the
dictionary (version "1": the first 26 fields, as delivered before; version "2": all
of them); an agreement's layout selects and orders some of them. The same definitions
make the schema shipped with every file (``table_schema``) and check each row at the
close (``row_problem``), so what is validated is what the buyer is told.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "DEFAULT_COLUMNS",
    "FIELDS",
    "LAYOUT_VERSIONS",
    "FieldSpec",
    "fields_of",
    "row_problem",
    "table_schema",
]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One sale-file field: Table Schema type, whether required, allowed values, meaning."""

    name: str
    type: str  # string | number | integer | date | boolean
    description: str
    required: bool = False
    enum: tuple[str, ...] = ()
    since: str = "1"  # the layout version that introduced it


_DOCUMENTATION = ("signed_contract", "communication_trail", "invoice_only")

_V1 = (
    FieldSpec("debtor_legal_name", "string", "The debtor's legal (registered) name.", True),
    FieldSpec("dba", "string", "The name the debtor trades under (doing business as)."),
    FieldSpec(
        "tax_id",
        "string",
        "The debtor's tax identifier (EIN), sent only where the agreement requires it.",
    ),
    FieldSpec(
        "billing_address",
        "string",
        "The billing address in one field (lines, city, region, postal code, country).",
    ),
    FieldSpec(
        "contact",
        "string",
        "The debtor's billing contact (e-mail) as the seller's books hold it; sent only "
        "where the agreement allows contacts.",
    ),
    FieldSpec("seller_name", "string", "The seller: the firm that sells the receivable.", True),
    FieldSpec("seller_address", "string", "The seller's address."),
    FieldSpec(
        "customer_id",
        "string",
        "The account number: the debtor's customer id in the seller's books.",
        True,
    ),
    FieldSpec("invoice_number", "string", "The invoice number the debtor was sent.", True),
    FieldSpec("invoice_date", "date", "The invoice date (the transaction date).", True),
    FieldSpec(
        "service_period",
        "string",
        "The period the invoiced services were rendered in, START/END (ISO dates).",
    ),
    FieldSpec("due_date", "date", "The date payment was due under the invoice's terms."),
    FieldSpec(
        "original_amount", "number", "The invoice total as the seller's books hold it.", True
    ),
    FieldSpec(
        "payments_and_credits_to_cutoff",
        "number",
        "Payments and credits applied up to the cut-off date.",
        True,
    ),
    FieldSpec(
        "face_at_cutoff",
        "number",
        "The balance owed at the cut-off date, frozen when the sale was cut.",
        True,
    ),
    FieldSpec(
        "face",
        "number",
        "The balance sold: the face at cut-off plus adjustments_to_close.",
        True,
    ),
    FieldSpec("last_payment_date", "date", "The latest payment on or before the cut-off."),
    FieldSpec("last_payment_amount", "number", "That payment's amount applied to this row."),
    FieldSpec(
        "first_delinquency_date",
        "date",
        "The date of first delinquency: the day after payment fell due.",
        True,
    ),
    FieldSpec(
        "dispute_flag",
        "boolean",
        "true when the row is under a dispute put-back (sold rows carry no open dispute).",
    ),
    FieldSpec(
        "documentation",
        "string",
        "How the debt is documented: signed_contract, communication_trail or invoice_only.",
        True,
        _DOCUMENTATION,
    ),
    FieldSpec("personal_guarantee", "boolean", "true when a person guaranteed the debt.", True),
    FieldSpec(
        "itemization_date",
        "date",
        "The date the itemization starts from (itemization_reference says which date it is).",
        True,
    ),
    FieldSpec(
        "price",
        "number",
        "What the buyer pays for the row: face × the agreement's rate, rounded half-even.",
        True,
    ),
    FieldSpec("currency", "string", "ISO 4217 currency of every amount in the row.", True),
    FieldSpec(
        "receivable_id",
        "string",
        "The receivable's id in the seller's platform (its invoice id): what a put-back "
        "request names.",
        True,
    ),
)

_V2 = (
    FieldSpec(
        "invoice_count",
        "integer",
        "Invoices the row stands for (1 per invoice row; an account row sums its invoices).",
        True,
        since="2",
    ),
    FieldSpec(
        "original_creditor_name",
        "string",
        "The creditor the debt was first owed to (the seller, on a first sale).",
        True,
        since="2",
    ),
    FieldSpec("original_creditor_address", "string", "The original creditor's address.", since="2"),
    FieldSpec("address_line1", "string", "The debtor's billing address, first line.", since="2"),
    FieldSpec("address_line2", "string", "The billing address's further lines.", since="2"),
    FieldSpec("city", "string", "The billing address's city.", since="2"),
    FieldSpec(
        "region",
        "string",
        "The billing address's state or province code (US: two letters).",
        since="2",
    ),
    FieldSpec("postal_code", "string", "The billing address's postal (ZIP) code.", since="2"),
    FieldSpec("country", "string", "The billing address's country (ISO 3166 code).", since="2"),
    FieldSpec(
        "charge_off_date",
        "date",
        "The date the debt left the seller's books: the closing date, when the sale "
        "credits the receivable (the seller books no earlier write-off).",
        True,
        since="2",
    ),
    FieldSpec(
        "itemization_reference",
        "string",
        "Which date itemization_date is: transaction_date (the invoice date).",
        True,
        ("transaction_date",),
        since="2",
    ),
    FieldSpec(
        "itemization_amount",
        "number",
        "The amount owed on the itemization date (the invoice total as first counted).",
        True,
        since="2",
    ),
    FieldSpec(
        "payments_since_itemization",
        "number",
        "Payments from the itemization date up to the cut-off.",
        True,
        since="2",
    ),
    FieldSpec(
        "credits_since_itemization",
        "number",
        "Credits (credit memos) from the itemization date up to the cut-off.",
        True,
        since="2",
    ),
    FieldSpec(
        "interest_since_itemization",
        "number",
        "Interest charged since the itemization date (forwardflow sells none: 0).",
        True,
        since="2",
    ),
    FieldSpec(
        "fees_since_itemization",
        "number",
        "Fees charged since the itemization date (forwardflow sells none: 0). "
        "face_at_cutoff = itemization_amount − payments − credits + interest + fees.",
        True,
        since="2",
    ),
    FieldSpec(
        "adjustments_to_close",
        "number",
        "What changed the face between cut-off and closing (≤ 0): face − face_at_cutoff.",
        True,
        since="2",
    ),
    FieldSpec(
        "adjustment_reason",
        "string",
        "Why, when adjustments_to_close is not 0: restated (a payment or credit dated by "
        "the cut-off, recorded later), payment_after_cutoff, credit_after_cutoff; several "
        "are separated by ';'.",
        since="2",
    ),
    FieldSpec(
        "governing_state",
        "string",
        "The state whose law and statute of limitations govern the debt (the debtor's "
        "billing region); empty when unknown, and the statute table's default row applies.",
        since="2",
    ),
    FieldSpec(
        "claim_type",
        "string",
        "written_contract (signed contract) or open_account: sets the limitation period.",
        True,
        ("written_contract", "open_account"),
        since="2",
    ),
    FieldSpec(
        "sol_years",
        "integer",
        "The statute-of-limitations period in years (the shipped table, to be confirmed "
        "by counsel).",
        True,
        since="2",
    ),
    FieldSpec(
        "sol_expiry_date",
        "date",
        "When the claim becomes time-barred: the later of the default date and the last "
        "payment by closing, plus sol_years.",
        True,
        since="2",
    ),
    FieldSpec(
        "document_files",
        "string",
        "The documents archive's files for this row (paths inside it), separated by ';'.",
        since="2",
    ),
    FieldSpec(
        "no_bankruptcy",
        "boolean",
        "true: no bankruptcy was recorded for the debt by the closing date.",
        True,
        since="2",
    ),
    FieldSpec(
        "no_open_dispute",
        "boolean",
        "true: no open dispute was recorded for the debt by the closing date.",
        True,
        since="2",
    ),
    FieldSpec(
        "exclusions_checked_on",
        "date",
        "The date the exclusions (bankruptcy, dispute, fraud, deceased guarantor, "
        "settlement, placed elsewhere, time-barred) were checked: the closing date.",
        True,
        since="2",
    ),
)

FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in (*_V1, *_V2)}
"""Every sale-file field, by name."""

LAYOUT_VERSIONS = ("1", "2")

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "1": (
        "receivable_id",
        "customer_id",
        "debtor_legal_name",
        "billing_address",
        "invoice_number",
        "invoice_date",
        "due_date",
        "original_amount",
        "payments_and_credits_to_cutoff",
        "face_at_cutoff",
        "face",
        "last_payment_date",
        "last_payment_amount",
        "first_delinquency_date",
        "price",
        "currency",
    ),
    "2": (
        "receivable_id",
        "customer_id",
        "invoice_number",
        "invoice_count",
        "debtor_legal_name",
        "dba",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "country",
        "seller_name",
        "seller_address",
        "original_creditor_name",
        "original_creditor_address",
        "invoice_date",
        "due_date",
        "first_delinquency_date",
        "charge_off_date",
        "last_payment_date",
        "last_payment_amount",
        "itemization_date",
        "itemization_reference",
        "itemization_amount",
        "payments_since_itemization",
        "credits_since_itemization",
        "interest_since_itemization",
        "fees_since_itemization",
        "original_amount",
        "face_at_cutoff",
        "adjustments_to_close",
        "adjustment_reason",
        "face",
        "price",
        "currency",
        "governing_state",
        "claim_type",
        "sol_years",
        "sol_expiry_date",
        "documentation",
        "document_files",
        "personal_guarantee",
        "no_bankruptcy",
        "no_open_dispute",
        "exclusions_checked_on",
    ),
}
"""The columns a layout of each version has when the agreement names none."""


def fields_of(version: str) -> dict[str, FieldSpec]:
    """The fields layout ``version`` may carry (an unknown version has none)."""
    if version not in LAYOUT_VERSIONS:
        return {}
    known = LAYOUT_VERSIONS[: LAYOUT_VERSIONS.index(version) + 1]
    return {name: spec for name, spec in FIELDS.items() if spec.since in known}


def _spec(name: str, required: Iterable[str]) -> FieldSpec:
    spec = FIELDS[name]
    if name in required and not spec.required:
        return FieldSpec(spec.name, spec.type, spec.description, True, spec.enum, spec.since)
    return spec


def table_schema(
    version: str,
    columns: Sequence[str],
    *,
    required: Iterable[str] = (),
    granularity: str = "invoice",
) -> dict[str, Any]:
    """The Frictionless Table Schema of a file with ``columns`` under layout ``version``.

    ``required`` names fields the agreement requires beyond the dictionary's own.
    """
    extra = frozenset(required)
    fields = []
    for name in columns:
        spec = _spec(name, extra)
        entry: dict[str, Any] = {
            "name": name,
            "type": spec.type,
            "format": "default",
            "description": spec.description,
        }
        constraints: dict[str, Any] = {}
        if spec.required:
            constraints["required"] = True
        if spec.enum:
            constraints["enum"] = list(spec.enum)
        if constraints:
            entry["constraints"] = constraints
        if spec.type == "boolean":
            entry["trueValues"], entry["falseValues"] = ["true"], ["false"]
        fields.append(entry)
    schema: dict[str, Any] = {
        "fields": fields,
        "missingValues": [""],
        "x-forwardflow-layout-version": version,
        "x-forwardflow-granularity": granularity,
    }
    key = "receivable_id" if granularity == "invoice" else "customer_id"
    if key in columns:
        schema["primaryKey"] = [key]
    return schema


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_INTEGER = re.compile(r"-?[0-9]+")


def _type_problem(kind: str, value: str) -> str | None:
    if kind == "number" and not _NUMBER.fullmatch(value):
        return f"{value!r} is not a number"
    if kind == "integer" and not _INTEGER.fullmatch(value):
        return f"{value!r} is not an integer"
    if kind == "boolean" and value not in ("true", "false"):
        return f"{value!r} is not true or false"
    if kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a date (YYYY-MM-DD)"
        if len(value) != 10:
            return f"{value!r} is not a date (YYYY-MM-DD)"
    return None


def row_problem(schema: dict[str, Any], values: Sequence[str]) -> tuple[str, str] | None:
    """The first field of a row that fails the schema, as ``(field, why)``; None if none.

    Checks what Frictionless checks for these types: a required field is not empty, a
    value has its type, an enumerated field holds one of its values.
    """
    for entry, value in zip(schema["fields"], values, strict=True):
        constraints = entry.get("constraints", {})
        if value == "":
            if constraints.get("required"):
                return entry["name"], "is required but empty"
            continue
        problem = _type_problem(entry["type"], value)
        if problem is None and "enum" in constraints and value not in constraints["enum"]:
            problem = f"{value!r} is not one of {', '.join(constraints['enum'])}"
        if problem is not None:
            return entry["name"], problem
    return None
