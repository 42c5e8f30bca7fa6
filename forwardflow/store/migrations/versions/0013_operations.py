"""The last success and failure of each recurring operation, for readiness and status.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_marks",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_health_marks"),
        comment="The last success and failure of each recurring operation (catch-up per "
        "platform company, buyer inbox polls, empty tranches), for readiness and status.",
    )


def downgrade() -> None:
    op.drop_table("health_marks")
