"""audit entries chained after commit: a chain position `seq` (the existing entries keep their
order, which was their id's), and the hashes set by the sealer

Revision ID: c1a0ac7e0012
Revises: c1a0ac7e0011
Create Date: 2026-12-03 16:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0012"
down_revision: str | None = "c1a0ac7e0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", BigId, nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("entry_hash", existing_type=sa.String(length=64), nullable=True)
    # Until now entries were chained as they were inserted: the chain's order is the ids'.
    op.execute("UPDATE audit_entry SET seq = id")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_audit_entry_seq", ["seq"])


def downgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_entry_seq", type_="unique")
        batch_op.drop_column("seq")
