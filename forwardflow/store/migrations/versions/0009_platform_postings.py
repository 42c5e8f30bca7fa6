"""Journal entries posted to a platform: posted, blocked (retried after re-authorisation),
and whether their invoice applications were made.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_postings",
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("entry_id", sa.String(255), nullable=False),
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("platform", "company_id", "entry_id",
                                name="pk_platform_postings"),
        sa.CheckConstraint("state IN ('posted', 'applied', 'blocked', 'unapplied')",
                           name="ck_platform_postings_state"),
        comment="Journal entries forwardflow posted to a platform, or could not post yet "
        "(blocked until the company is re-authorised); applied once their invoices are.",
    )
    op.create_index("ix_platform_postings_platform_company_id_portfolio_id",
                    "platform_postings", ["platform", "company_id", "portfolio_id"])
    op.create_index("ix_platform_postings_state", "platform_postings", ["state"])


def downgrade() -> None:
    op.drop_index("ix_platform_postings_state", table_name="platform_postings")
    op.drop_index("ix_platform_postings_platform_company_id_portfolio_id",
                  table_name="platform_postings")
    op.drop_table("platform_postings")
