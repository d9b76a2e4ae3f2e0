"""one active X per person held by the database

Partial unique indexes (SQLite and PostgreSQL both have them):

- ``uq_volunteer_signup_active``: one live (not cancelled) sign-up per volunteer and shift;
- ``uq_emergency_alert_accepted``: one accepted alert per responder (helping at one incident);
- ``uq_points_objection_open``: one open objection per villager and record.

Rows that the old check-then-insert races let through would stop the index from being built,
so each is settled first, the way the service would have had it:

- duplicate live sign-ups: the most advanced one stays (verified > checked out > checked in >
  no-show > confirmed > waitlisted; the earliest of equals); the others are cancelled, and a
  cancelled one that held a place gives it back (``taken`` minus one);
- accepted alerts of incidents no longer alerting are released (what closing does now); of
  several still accepted by one responder the latest answered stays, the others are released;
- duplicate open objections: the earliest stays; the others are dismissed with an answer that
  names it.

Revision ID: c1a0ac7e0001
Revises: 0d45d8c12f35
Create Date: 2026-12-01 12:00:00+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0001"
down_revision: str | None = "0d45d8c12f35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNUP_RANK = {
    "verified": 0,
    "checked_out": 1,
    "checked_in": 2,
    "no_show": 3,
    "confirmed": 4,
    "waitlisted": 5,
}


def _settle_signups(conn: sa.Connection) -> None:
    pairs = conn.execute(
        sa.text(
            "SELECT shift_id, person_id FROM volunteer_signup WHERE status <> 'cancelled' "
            "GROUP BY shift_id, person_id HAVING count(*) > 1"
        )
    ).all()
    for shift_id, person_id in pairs:
        rows = conn.execute(
            sa.text(
                "SELECT id, status FROM volunteer_signup WHERE shift_id = :s AND person_id = :p "
                "AND status <> 'cancelled' ORDER BY id"
            ),
            {"s": shift_id, "p": person_id},
        ).all()
        keep = min(rows, key=lambda r: (SIGNUP_RANK.get(r.status, 9), r.id))
        for row in rows:
            if row.id == keep.id:
                continue
            conn.execute(
                sa.text("UPDATE volunteer_signup SET status = 'cancelled' WHERE id = :id"),
                {"id": row.id},
            )
            if row.status != "waitlisted":
                conn.execute(
                    sa.text(
                        "UPDATE volunteer_shift SET taken = taken - 1 WHERE id = :id AND taken > 0"
                    ),
                    {"id": shift_id},
                )


def _settle_alerts(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "UPDATE emergency_alert SET status = 'released' WHERE status = 'accepted' AND "
            "incident_id IN (SELECT id FROM emergency_incident WHERE status <> 'alerting')"
        )
    )
    people = conn.scalars(
        sa.text(
            "SELECT person_id FROM emergency_alert WHERE status = 'accepted' "
            "GROUP BY person_id HAVING count(*) > 1"
        )
    ).all()
    for person_id in people:
        ids = conn.scalars(
            sa.text(
                "SELECT id FROM emergency_alert WHERE person_id = :p AND status = 'accepted' "
                "ORDER BY answered_at DESC, id DESC"
            ),
            {"p": person_id},
        ).all()
        for alert_id in ids[1:]:
            conn.execute(
                sa.text("UPDATE emergency_alert SET status = 'released' WHERE id = :id"),
                {"id": alert_id},
            )


def _settle_objections(conn: sa.Connection) -> None:
    pairs = conn.execute(
        sa.text(
            "SELECT record_id, objector_person_id FROM points_objection WHERE status = 'open' "
            "GROUP BY record_id, objector_person_id HAVING count(*) > 1"
        )
    ).all()
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as the models' UTC column stores it there
    for record_id, person_id in pairs:
        ids = conn.scalars(
            sa.text(
                "SELECT id FROM points_objection WHERE record_id = :r AND "
                "objector_person_id = :p AND status = 'open' ORDER BY id"
            ),
            {"r": record_id, "p": person_id},
        ).all()
        for objection_id in ids[1:]:
            conn.execute(
                sa.text(
                    "UPDATE points_objection SET status = 'dismissed', answer = :answer, "
                    "decided_at = :now WHERE id = :id"
                ),
                {
                    "id": objection_id,
                    "now": now,
                    "answer": f"重复提出的异议，已并入第 {ids[0]} 号异议一并处理。",
                },
            )


def upgrade() -> None:
    conn = op.get_bind()
    _settle_signups(conn)
    _settle_alerts(conn)
    _settle_objections(conn)
    with op.batch_alter_table("volunteer_signup", schema=None) as batch_op:
        batch_op.create_index(
            "uq_volunteer_signup_active",
            ["shift_id", "person_id"],
            unique=True,
            sqlite_where=sa.text("status <> 'cancelled'"),
            postgresql_where=sa.text("status <> 'cancelled'"),
        )
    with op.batch_alter_table("emergency_alert", schema=None) as batch_op:
        batch_op.create_index(
            "uq_emergency_alert_accepted",
            ["person_id"],
            unique=True,
            sqlite_where=sa.text("status = 'accepted'"),
            postgresql_where=sa.text("status = 'accepted'"),
        )
    with op.batch_alter_table("points_objection", schema=None) as batch_op:
        batch_op.create_index(
            "uq_points_objection_open",
            ["record_id", "objector_person_id"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("points_objection", schema=None) as batch_op:
        batch_op.drop_index("uq_points_objection_open")
    with op.batch_alter_table("emergency_alert", schema=None) as batch_op:
        batch_op.drop_index("uq_emergency_alert_accepted")
    with op.batch_alter_table("volunteer_signup", schema=None) as batch_op:
        batch_op.drop_index("uq_volunteer_signup_active")
