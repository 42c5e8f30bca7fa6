"""Connect links, buyers' request files by content, rejected request lines, store probe.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "connect_links",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("company_id", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state_digest", sa.String(64), nullable=True),
        sa.Column("browser_digest", sa.String(64), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_connect_links"),
        sa.UniqueConstraint("state_digest", name="uq_connect_links_state_digest"),
        comment="Single-use links that start connecting a company, minted by an operator; "
        "the OAuth state and the browser that opened the link are bound to them.",
    )
    op.create_table(
        "inbound_files",
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("result", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("agreement_id", "sha256", name="pk_inbound_files"),
        comment="Buyers' request files by content: the same bytes get the same answer, "
        "whatever name they come under.",
    )
    op.create_table(
        "putback_rejections",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("portfolio_id", sa.String(64), nullable=False),
        sa.Column("receivable_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(60), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_putback_rejections"),
        sa.UniqueConstraint("agreement_id", "file_sha256", "line",
                            name="uq_putback_rejections_agreement_id_file_sha256_line"),
        comment="Request lines from buyers' files that broke a rule, kept out of the "
        "portfolio document so a hostile file cannot bloat it.",
    )
    op.create_index(
        "ix_putback_rejections_portfolio_id", "putback_rejections", ["portfolio_id"]
    )
    op.create_table(
        "store_probes",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_store_probes"),
        comment="Readiness writes here: a store that cannot commit (read-only, disk full) "
        "is not ready.",
    )


def downgrade() -> None:
    op.drop_table("store_probes")
    op.drop_index("ix_putback_rejections_portfolio_id", table_name="putback_rejections")
    op.drop_table("putback_rejections")
    op.drop_table("inbound_files")
    op.drop_table("connect_links")
