"""What the buyer was told after the sale: put-back decisions and remittance statements.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "buyer_notices",
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("agreement_id", "kind", "subject", "digest",
                                name="pk_buyer_notices"),
        sa.CheckConstraint("kind IN ('putback', 'statement')", name="ck_buyer_notices_kind"),
        comment="What the buyer was told after the sale: each decided put-back request "
        "(subject: request id) and each remittance statement (subject: portfolio, digest: "
        "what it said), with the file it was sent in.",
    )


def downgrade() -> None:
    op.drop_table("buyer_notices")
