"""Exclusion flags per receivable.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receivable_flags",
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("receivable_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("tenant", "receivable_id", "reason",
                                name="pk_receivable_flags"),
        comment="Exclusion facts the firm recorded (bankruptcy, dispute …): such a receivable "
        "is never cut and is removed from a live sale.",
    )


def downgrade() -> None:
    op.drop_table("receivable_flags")
