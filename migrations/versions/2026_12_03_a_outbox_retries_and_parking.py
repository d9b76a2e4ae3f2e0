"""outbox: a failing subscriber is retried with backoff, then parked

A message whose subscriber raised used to stay first in line and be tried again every second,
holding back every event behind it. It now carries its attempts, the time of its next try and
its last error, and is parked (``failed_at``) after eight attempts.

Revision ID: c1a0ac7e0009
Revises: c1a0ac7e0008
Create Date: 2026-12-03 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0009"
down_revision: str | None = "c1a0ac7e0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("last_error")
        batch.drop_column("failed_at")
        batch.drop_column("retry_at")
        batch.drop_column("attempts")
