"""a points catalogue's name holds any village's name

The catalogue is named "<village>积分细则"; a village's name may have 200 characters, the
catalogue's name had room for 100 (PostgreSQL refused a long village's scheme).

Revision ID: c1a0ac7e0003
Revises: c1a0ac7e0002
Create Date: 2026-12-02 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0003"
down_revision: str | None = "c1a0ac7e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("points_catalogue", schema=None) as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.String(length=100), type_=sa.String(length=210)
        )


def downgrade() -> None:
    with op.batch_alter_table("points_catalogue", schema=None) as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.String(length=210), type_=sa.String(length=100)
        )
