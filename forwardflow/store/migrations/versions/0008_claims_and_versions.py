"""Receivable claims, portfolio members and versions: a receivable is sold once, no lost update.

Ledger entities also keep the invoices each version names and the ones the version it
replaced named, so a payment voided while another writer changes it still finds them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Existing portfolios get their members and claims from their documents. Should two
portfolios hold the same receivable (possible before this revision with several writers
on PostgreSQL), the one cut first keeps the claim and the other is named in a warning:
that receivable was sold twice and needs a controller's attention.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

_HELD = {"in_portfolio", "sold", "putback_requested", "putback_rejected"}


def upgrade() -> None:
    op.add_column(
        "portfolios", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column(
        "ledger_entities",
        sa.Column("invoices", sa.Text(), nullable=False, server_default="[]"),
    )
    op.add_column(
        "ledger_entities",
        sa.Column("prior_invoices", sa.Text(), nullable=False, server_default="[]"),
    )
    op.add_column(
        "agreements", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.create_table(
        "portfolio_members",
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("receivable_id", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("portfolio_id", "receivable_id", name="pk_portfolio_members"),
        comment="Every receivable each portfolio ever had a line for: which portfolios a "
        "ledger change concerns.",
    )
    op.create_index(
        "ix_portfolio_members_tenant_receivable_id",
        "portfolio_members",
        ["tenant", "receivable_id"],
    )
    op.create_table(
        "receivable_claims",
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("receivable_id", sa.String(200), nullable=False),
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "receivable_id", name="pk_receivable_claims"),
        comment="The one portfolio holding each receivable (live or sold): a receivable is "
        "sold once. Released when it is removed, put back or replaced.",
    )
    op.create_index("ix_receivable_claims_portfolio_id", "receivable_claims", ["portfolio_id"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_table_comment(
            "portfolios",
            "Each portfolio as a JSON document (lines, adjustments, put-backs, remittances); "
            "saved only over the version it was read at.",
        )
        op.create_table_comment(
            "ledger_entities",
            "The newest known change of each ledger entity (invoice, payment, credit, "
            "customer, merge), kept whole; newer versions replace it, older ones never do. "
            "invoices: what it names (JSON list); prior_invoices: what the version it "
            "replaced named.",
        )
        op.create_table_comment(
            "agreements",
            "Sale agreements as the TOML they were added from; saved only over the version "
            "they were read at.",
        )
    _backfill_invoices(bind)
    _backfill(bind)


def _named(message: dict[str, Any]) -> list[str]:
    """The invoices a stored ledger change names (as ``debtsale.ledger.invoices_named``)."""
    kind, data = message.get("type", ""), message.get("data", {})
    if kind.startswith("Invoice"):
        return [str(data["invoice_id"])]
    if kind in ("PaymentRecorded", "CreditRecorded"):
        return sorted({str(a["invoice_id"]) for a in data.get("allocations", [])})
    return []


def _backfill_invoices(bind: Any) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT tenant, kind, entity_id, message FROM ledger_entities "
            "WHERE kind IN ('invoice', 'payment', 'credit')"
        )
    ).all()
    for tenant, kind, entity_id, message in rows:
        data = json.loads(message) if isinstance(message, str) else message
        bind.execute(
            sa.text(
                "UPDATE ledger_entities SET invoices = :invoices "
                "WHERE tenant = :tenant AND kind = :kind AND entity_id = :entity_id"
            ),
            {
                "invoices": json.dumps(_named(data)),
                "tenant": tenant,
                "kind": kind,
                "entity_id": entity_id,
            },
        )


def _backfill(bind: Any) -> None:
    rows = bind.execute(sa.text("SELECT id, tenant, document FROM portfolios")).all()
    documents = []
    for portfolio_id, tenant, document in rows:
        data = json.loads(document) if isinstance(document, str) else document
        documents.append((str(data.get("cutoff", "")), portfolio_id, tenant, data))
    claimed: dict[tuple[str, str], str] = {}
    for _, portfolio_id, tenant, data in sorted(documents):
        lines = data.get("lines", {})
        for receivable_id in sorted(lines):
            bind.execute(
                sa.text(
                    "INSERT INTO portfolio_members (portfolio_id, receivable_id, tenant) "
                    "VALUES (:p, :r, :t)"
                ),
                {"p": portfolio_id, "r": receivable_id, "t": tenant},
            )
            if lines[receivable_id].get("state") not in _HELD:
                continue
            holder = claimed.get((tenant, receivable_id))
            if holder is not None:
                log.warning(
                    "receivable %s of %s is held by portfolios %s and %s: sold twice; %s keeps "
                    "the claim",
                    receivable_id,
                    tenant,
                    holder,
                    portfolio_id,
                    holder,
                )
                continue
            claimed[(tenant, receivable_id)] = portfolio_id
            bind.execute(
                sa.text(
                    "INSERT INTO receivable_claims (tenant, receivable_id, portfolio_id) "
                    "VALUES (:t, :r, :p)"
                ),
                {"p": portfolio_id, "r": receivable_id, "t": tenant},
            )


def downgrade() -> None:
    op.drop_index("ix_receivable_claims_portfolio_id", table_name="receivable_claims")
    op.drop_table("receivable_claims")
    op.drop_index("ix_portfolio_members_tenant_receivable_id", table_name="portfolio_members")
    op.drop_table("portfolio_members")
    with op.batch_alter_table("ledger_entities") as batch:
        batch.drop_column("prior_invoices")
        batch.drop_column("invoices")
    with op.batch_alter_table("agreements") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("portfolios") as batch:
        batch.drop_column("version")
