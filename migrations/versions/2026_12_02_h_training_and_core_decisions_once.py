"""one reversal per class expense, held by the database

``uq_training_class_expense_reverses_id``: a correction of the use of a class's funding is a
reversing entry, at most one per expense (the expenses themselves have no ``reverses_id``, and
NULLs do not collide). The old check-then-insert let two reversals made at once through, each
giving the amount back to the class's funding; of such duplicates the earliest stays and the
later ones are deleted, as the service would have refused them.

The other decisions of this change (one completion per class, spending within the funding, the
daily quiz limit, an administrator left in every organisation) are held by row and advisory
locks in the services and need no schema.

Revision ID: c1a0ac7e0008
Revises: c1a0ac7e0007
Create Date: 2026-12-02 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0008"
down_revision: str | None = "c1a0ac7e0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(
            "DELETE FROM training_class_expense WHERE reverses_id IS NOT NULL AND id NOT IN ("
            "SELECT min(id) FROM training_class_expense WHERE reverses_id IS NOT NULL "
            "GROUP BY reverses_id)"
        )
    )
    with op.batch_alter_table("training_class_expense", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_training_class_expense_reverses_id"), ["reverses_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("training_class_expense", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_training_class_expense_reverses_id"), type_="unique"
        )
