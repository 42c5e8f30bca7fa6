"""Agreements and portfolios.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_agreements"),
        comment="Sale agreements as the TOML they were added from.",
    )
    op.create_table(
        "portfolios",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_portfolios"),
        comment="Each portfolio as a JSON document (lines, adjustments, put-backs, "
        "remittances).",
    )
    op.create_index("ix_portfolios_tenant_status", "portfolios", ["tenant", "status"])


def downgrade() -> None:
    op.drop_index("ix_portfolios_tenant_status", table_name="portfolios")
    op.drop_table("portfolios")
    op.drop_table("agreements")
