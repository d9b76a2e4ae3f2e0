"""live events followed across processes on SQLite

Revision ID: c1a0ac7e0002
Revises: c1a0ac7e0001
Create Date: 2026-12-01 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongchuang.core.db

revision: str = "c1a0ac7e0002"
down_revision: str | None = "c1a0ac7e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_event")),
        # Ids never reused after pruning: followers read `id > last`.
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("live_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_live_event_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("live_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_event_created_at"))
    op.drop_table("live_event")
