"""Connected platform companies, payment links and CDC checkpoints.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_companies",
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("tokens", sa.LargeBinary(), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("platform", "company_id", name="pk_platform_companies"),
        comment="Connected companies; their OAuth tokens sealed with the installation's key.",
    )
    op.create_table(
        "platform_payment_links",
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("invoice_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "company_id", "payment_id",
                                name="pk_platform_payment_links"),
        comment="Which invoices each payment paid when last read (a deleted payment says "
        "nothing).",
    )
    op.create_table(
        "platform_checkpoints",
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("changed_since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "company_id", "entity",
                                name="pk_platform_checkpoints"),
        comment="Change-data-capture progress: everything before changed_since was published.",
    )


def downgrade() -> None:
    op.drop_table("platform_checkpoints")
    op.drop_table("platform_payment_links")
    op.drop_table("platform_companies")
