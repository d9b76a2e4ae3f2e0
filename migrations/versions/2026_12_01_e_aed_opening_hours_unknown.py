"""AED opening hours may be unknown; AEDs may keep to the working calendar

- ``emergency_aed.opening_hours`` becomes nullable: NULL is "not known", as a missing
  ``opening_hours`` tag means in OpenStreetMap (imports stored such AEDs as "24/7"). Rows stored
  before cannot be told apart and keep their value: the venues should check AEDs imported from
  OpenStreetMap that show 24/7.
- ``emergency_aed.follows_workdays``: open on make-up working days (调休), closed on public
  holidays, as a school's or an office's AED is.

Revision ID: c1a0ac7e0005
Revises: c1a0ac7e0004
Create Date: 2026-12-01 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0005"
down_revision: str | None = "c1a0ac7e0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("emergency_aed", schema=None) as batch_op:
        batch_op.alter_column("opening_hours", existing_type=sa.String(length=200), nullable=True)
        batch_op.add_column(
            sa.Column("follows_workdays", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    op.execute("UPDATE emergency_aed SET opening_hours = '24/7' WHERE opening_hours IS NULL")
    with op.batch_alter_table("emergency_aed", schema=None) as batch_op:
        batch_op.drop_column("follows_workdays")
        batch_op.alter_column("opening_hours", existing_type=sa.String(length=200), nullable=False)
