"""Sale files recorded at the close: summary and rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sale_files",
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("portfolio_id", name="pk_sale_files"),
        comment="Each closed sale's file summary (dates, layout, header, count and totals), "
        "written in the close's commit.",
    )
    op.create_table(
        "sale_file_chunks",
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("face_minor", sa.BigInteger(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("portfolio_id", "position", name="pk_sale_file_chunks"),
        comment="Each sale file as sold, in chunks of consecutive rows (CSV bytes, row count, "
        "face and price in minor units), in file order: the delivery streams them.",
    )


def downgrade() -> None:
    op.drop_table("sale_file_chunks")
    op.drop_table("sale_files")
