"""Ledger entities: the newest known change of every invoice, payment, credit and customer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_entities",
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("version_micros", sa.BigInteger(), nullable=False),
        sa.Column("version_sequence", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "kind", "entity_id", name="pk_ledger_entities"),
        comment="The newest known change of each ledger entity (invoice, payment, credit, "
        "customer, merge), kept whole; newer versions replace it, older ones never do.",
    )


def downgrade() -> None:
    op.drop_table("ledger_entities")
