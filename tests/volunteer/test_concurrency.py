"""200 volunteers race for 50 places (PostgreSQL in the PostgreSQL run)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.db import Database, utcnow
from gongchuang.core.models import OrganisationKind
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Shift, Signup
from tests.support.databases import fresh_database
from tests.support.world import build_world, make_person
from tests.volunteer.conftest import SITE, profile


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "volunteer_race") as database:
        yield database


def test_two_hundred_sign_ups_for_fifty_places(db: Database) -> None:
    with db.transaction() as session:
        world = build_world(session)
        ngo = organisations.create_organisation(
            session, SYSTEM, name="赛跑协会", kind=OrganisationKind.ngo, region=world.county
        )
        ids = []
        for n in range(200):
            person = make_person(session, f"134{n:08d}", f"志愿者{n}")
            service.save_profile(session, Principal(person_id=person.id, name=""), profile())
            ids.append(person.id)
        starts = utcnow() + timedelta(days=1)
        activity = service.create_activity(
            session,
            SYSTEM,
            ngo,
            service.ActivityInput("马拉松", "events", "", "起点", *SITE),
            [service.ShiftInput(starts, starts + timedelta(hours=4), 50)],
        )
        shift_id = service.shifts_of(session, activity)[0].id
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def sign_up(person_id: int) -> None:
        barrier.wait()
        try:
            with db.transaction() as session:
                service.sign_up(session, Principal(person_id=person_id, name=""), shift_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sign_up, args=(p,)) for p in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with db.transaction(write=False) as session:
        counts = dict(
            session.execute(
                select(Signup.status, func.count(Signup.id)).group_by(Signup.status)
            ).all()
        )
        assert counts == {"confirmed": 50, "waitlisted": 150}
        assert session.scalar(select(Shift.taken).where(Shift.id == shift_id)) == 50
