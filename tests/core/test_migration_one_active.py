"""The migration that puts "one active X per person" under unique indexes settles what the old
check-then-insert races let through, so that it runs on a real install's data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, select, text, update

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import Person
from gongchuang.emergency import service as emergency
from gongchuang.emergency.models import Alert, Incident
from gongchuang.emergency.schemas import AlertAnswer
from gongchuang.migrate import alembic_config
from gongchuang.points import service as points
from gongchuang.points.models import Objection
from gongchuang.volunteer import service as volunteer
from gongchuang.volunteer.models import Shift, Signup
from tests.emergency.conftest import eido, ew
from tests.points.conftest import pw
from tests.support.databases import fresh_database_url
from tests.support.principals import acting
from tests.support.world import build_world
from tests.volunteer.conftest import vw

BEFORE = "0d45d8c12f35"


def _copy_row(conn, table: str, row_id: int, times: int) -> None:  # type: ignore[no-untyped-def]
    columns = ", ".join(c["name"] for c in inspect(conn).get_columns(table) if c["name"] != "id")
    for _ in range(times):
        conn.execute(
            text(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table} WHERE id = :id"),
            {"id": row_id},
        )


def test_duplicates_left_by_old_races_are_settled_before_the_indexes(tmp_path: Path) -> None:
    with fresh_database_url(tmp_path, "one_active") as url:
        db = Database(url)
        try:
            with db.transaction() as session:
                world = build_world(session)
                v = vw.__wrapped__(session, world)
                _, shift = v.activity(session, capacity=5)
                signup = volunteer.sign_up(session, acting(v.alice), shift.id)
                p = pw.__wrapped__(session, world)
                record = p.approve(session, p.report(session, p.villager))
                objection = points.raise_objection(
                    session, acting(p.neighbour), p.village, record, "没有参加"
                )
                e = ew.__wrapped__(session, world)
                responder = e.responders[0]
                alerts = []
                for n in range(3):
                    incident, _ = e.receive(session, eido(f"ZZ-{n}"), key=f"k-{n}")
                    alerts.append(
                        session.scalar(
                            select(Alert).where(
                                Alert.incident_id == incident.id, Alert.person_id == responder.id
                            )
                        )
                    )
                emergency.answer(session, acting(responder), alerts[0].id, AlertAnswer(accept=True))
                ids = (signup.id, shift.id, objection.id, [a.id for a in alerts])
        finally:
            db.dispose()
        signup_id, shift_id, objection_id, alert_ids = ids
        config = alembic_config(url)
        command.downgrade(config, BEFORE)
        db = Database(url)
        try:
            with db.transaction() as session:
                conn = session.connection()
                # What the races left: three live sign-ups holding three places, two more
                # open objections, and the responder engaged at three incidents, one closed.
                _copy_row(conn, "volunteer_signup", signup_id, 2)
                conn.execute(update(Shift).where(Shift.id == shift_id).values(taken=3))
                _copy_row(conn, "points_objection", objection_id, 2)
                later = utcnow() + timedelta(seconds=5)
                for alert_id in alert_ids[1:]:
                    conn.execute(
                        update(Alert)
                        .where(Alert.id == alert_id)
                        .values(status="accepted", answered_at=later)
                    )
                    later += timedelta(seconds=5)
                closed_incident = session.scalar(
                    select(Alert.incident_id).where(Alert.id == alert_ids[2])
                )
                conn.execute(
                    update(Incident).where(Incident.id == closed_incident).values(status="closed")
                )
        finally:
            db.dispose()
        command.upgrade(config, "head")
        db = Database(url)
        try:
            with db.transaction(write=False) as session:
                signups = session.execute(
                    select(Signup.id, Signup.status).where(Signup.shift_id == shift_id)
                ).all()
                assert sorted(signups) == [
                    (signup_id, "confirmed"),
                    (signup_id + 1, "cancelled"),
                    (signup_id + 2, "cancelled"),
                ]
                assert session.scalar(select(Shift.taken).where(Shift.id == shift_id)) == 1
                objections = session.scalars(select(Objection).order_by(Objection.id)).all()
                assert [o.status for o in objections] == ["open", "dismissed", "dismissed"]
                assert all(f"第 {objection_id} 号" in o.answer for o in objections[1:])
                assert all(o.decided_at is not None for o in objections[1:])
                statuses = dict(
                    session.execute(
                        select(Alert.id, Alert.status).where(Alert.id.in_(alert_ids))
                    ).all()
                )
                # The closed incident's alert is released; of the two still alerting, the
                # latest accepted stays.
                assert [statuses[a] for a in alert_ids] == ["released", "accepted", "released"]
                assert session.get(Person, responder.id) is not None
        finally:
            db.dispose()
