"""a sign-up's hours are verified once, held by the database

``uq_volunteer_hours_entry_verified``: one ``verified`` hours entry per sign-up (partial unique
index, SQLite and PostgreSQL). A correction stays what it was: a reversal of the sign-up's net
minutes and a ``correction`` entry after it.

Before this, an organiser's double tap could verify a sign-up twice (two ``verified``
entries; the minutes and the completed shift counted twice in ``volunteer_total``), and two
corrections sent at once both reversed the first figure (180 minutes corrected to 120 twice
left 60). Both are settled first, as the service would have had it:

- the earliest verification stays; each later one becomes a ``correction`` (the one change to
  an existing entry, which the index needs: its minutes, day, actor and time stay);
- a sign-up holds its latest real correction's minutes, else its first verification's; where
  its entries add up to something else, one ``reversal`` entry is appended for the difference,
  naming the sign-up's last entry before it;
- the volunteer's cached total moves by that difference and loses one completed shift per
  surplus verification.

Points that the second ``volunteer.hours_verified`` event made in a village are that village's
records and are not touched here.

Revision ID: c1a0ac7e0007
Revises: c1a0ac7e0006
Create Date: 2026-12-02 12:00:00+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gongchuang.core.db import UTCDateTime

revision: str = "c1a0ac7e0007"
down_revision: str | None = "c1a0ac7e0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASON = "重复确认或同时更正造成的时长差额，已按应有时长冲正"


def _settle_double_verifications(conn: sa.Connection) -> None:
    signup_ids = conn.scalars(
        sa.text(
            "SELECT signup_id FROM volunteer_hours_entry WHERE signup_id IS NOT NULL "
            "GROUP BY signup_id HAVING sum(CASE WHEN kind = 'verified' THEN 1 ELSE 0 END) > 1 "
            "OR sum(CASE WHEN kind = 'correction' THEN 1 ELSE 0 END) > 0"
        )
    ).all()
    append_reversal = sa.text(
        "INSERT INTO volunteer_hours_entry (person_id, organisation_id, signup_id, minutes, "
        "kind, reason, reverses_entry_id, actor_person_id, served_on, created_at) "
        "SELECT person_id, organisation_id, signup_id, :minutes, 'reversal', :reason, :reverses, "
        "NULL, served_on, :now FROM volunteer_hours_entry WHERE id = :reverses"
    ).bindparams(sa.bindparam("now", type_=UTCDateTime(timezone=True)))
    now = datetime.now(UTC)
    for signup_id in signup_ids:
        entries = conn.execute(
            sa.text(
                "SELECT id, person_id, minutes, kind FROM volunteer_hours_entry "
                "WHERE signup_id = :s ORDER BY id"
            ),
            {"s": signup_id},
        ).all()
        verified = [e for e in entries if e.kind == "verified"]
        corrections = [e for e in entries if e.kind == "correction"]
        if not verified:
            continue
        surplus = verified[1:]
        should_hold = corrections[-1].minutes if corrections else verified[0].minutes
        difference = should_hold - sum(e.minutes for e in entries)
        if not surplus and not difference:
            continue
        for entry in surplus:
            conn.execute(
                sa.text("UPDATE volunteer_hours_entry SET kind = 'correction' WHERE id = :id"),
                {"id": entry.id},
            )
        if difference:
            conn.execute(
                append_reversal,
                {"minutes": difference, "reason": REASON, "reverses": entries[-1].id, "now": now},
            )
        conn.execute(
            sa.text(
                "UPDATE volunteer_total SET "
                "minutes = CASE WHEN minutes + :m < 0 THEN 0 ELSE minutes + :m END, "
                "completed_shifts = CASE WHEN completed_shifts < :n THEN 0 "
                "ELSE completed_shifts - :n END "
                "WHERE person_id = :p"
            ),
            {"m": difference, "n": len(surplus), "p": verified[0].person_id},
        )


def upgrade() -> None:
    _settle_double_verifications(op.get_bind())
    with op.batch_alter_table("volunteer_hours_entry", schema=None) as batch_op:
        batch_op.create_index(
            "uq_volunteer_hours_entry_verified",
            ["signup_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'verified'"),
            postgresql_where=sa.text("kind = 'verified'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("volunteer_hours_entry", schema=None) as batch_op:
        batch_op.drop_index("uq_volunteer_hours_entry_verified")
