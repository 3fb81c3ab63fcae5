"""Issue 15's tables: learner-controlled credential pages and the channels' delivery log.

Revision ID: 0002
Revises: 0001

Each table is created only when missing: a database that ran a development build between the two releases
may hold some of them already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "issuance_credential_visibility" not in existing:
        op.create_table(
            "issuance_credential_visibility",
            sa.Column("credential_id", sa.String(length=36), nullable=False),
            sa.Column("public", sa.Boolean(), nullable=False),
            sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("credential_id"),
        )
    if "notify_channels" not in existing:
        op.create_table(
            "notify_channels",
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("channel"),
        )
    if "notify_deliveries" not in existing:
        op.create_table(
            "notify_deliveries",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("key", sa.String(length=300), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("channel", "key", name="uq_notify_delivery"),
        )


def downgrade() -> None:
    op.drop_table("notify_deliveries")
    op.drop_table("notify_channels")
    op.drop_table("issuance_credential_visibility")
