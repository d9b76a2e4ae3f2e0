"""points decisions once

``uq_points_approval_approver``: one approval per approver and record (a partial unique index
on ``points_approval (record_id, decided_by_person_id) WHERE decision = 'approve'``, which
SQLite and PostgreSQL both have). The service already refused a second approval by the same
person, at the same level or a later one, but checked on a copy of the record read before
another request's approval committed; it now decides under the record's row lock, and the
database holds the rule for any path that forgets.

Approvals that the old race let through would stop the index from being built. They are the
same person's same decision sent twice (a double tap, or the batch and the single form at
once), recorded at the level the record stood at when both were read; the earliest stays and
the later copies are deleted. Nothing else depended on them: the record moved one level (its
``approval_step`` was set, not counted, by each), and the audit log keeps both requests.

Revision ID: c1a0ac7e0006
Revises: c1a0ac7e0005
Create Date: 2026-12-02 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0006"
down_revision: str | None = "c1a0ac7e0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _settle_repeated_approvals(conn: sa.Connection) -> None:
    pairs = conn.execute(
        sa.text(
            "SELECT record_id, decided_by_person_id FROM points_approval "
            "WHERE decision = 'approve' GROUP BY record_id, decided_by_person_id "
            "HAVING count(*) > 1"
        )
    ).all()
    for record_id, person_id in pairs:
        ids = conn.scalars(
            sa.text(
                "SELECT id FROM points_approval WHERE record_id = :r AND "
                "decided_by_person_id = :p AND decision = 'approve' ORDER BY decided_at, id"
            ),
            {"r": record_id, "p": person_id},
        ).all()
        for approval_id in ids[1:]:
            conn.execute(sa.text("DELETE FROM points_approval WHERE id = :id"), {"id": approval_id})


def upgrade() -> None:
    _settle_repeated_approvals(op.get_bind())
    with op.batch_alter_table("points_approval", schema=None) as batch_op:
        batch_op.create_index(
            "uq_points_approval_approver",
            ["record_id", "decided_by_person_id"],
            unique=True,
            sqlite_where=sa.text("decision = 'approve'"),
            postgresql_where=sa.text("decision = 'approve'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("points_approval", schema=None) as batch_op:
        batch_op.drop_index("uq_points_approval_approver")
