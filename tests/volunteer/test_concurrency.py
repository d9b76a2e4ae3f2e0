"""Sign-ups and claims raced by real threads and processes against a committed database
(PostgreSQL in the PostgreSQL run): 200 volunteers for 50 places, and one volunteer racing
themselves, which the database or a lock on their profile row must hold."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.db import Database, utcnow
from gongchuang.core.errors import Conflict
from gongchuang.core.models import Membership, Organisation, OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.volunteer import service
from gongchuang.volunteer.models import (
    Benefit,
    BenefitClaim,
    Shift,
    Signup,
    SignupStatus,
    VolunteerTotal,
)
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database, fresh_database_url
from tests.support.servers import running_server
from tests.support.world import PASSWORD, build_world, make_person
from tests.volunteer.conftest import SITE, profile, vw


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


# --- one volunteer racing themselves: each rule is held by the database or under a lock -------


def _committed_world(db: Database) -> dict[str, int]:
    """The volunteer test world (`vw`), committed so that other connections see it."""
    with db.transaction() as session:
        built = vw.__wrapped__(session, build_world(session))
        return {
            "alice": built.alice.id,
            "organiser": built.organiser.id,
            "team": built.team.id,
            "partner": built.partner.id,
        }


def _shifts(db: Database, ids: dict[str, int], count: int, capacity: int) -> list[int]:
    """`count` activities whose shifts all run at the same time tomorrow."""
    starts = utcnow() + timedelta(days=1)
    with db.transaction() as session:
        team = session.get(Organisation, ids["team"])
        shift_ids = []
        for n in range(count):
            activity = service.create_activity(
                session,
                Principal(person_id=ids["organiser"], name=""),
                team,
                service.ActivityInput(f"同时段活动{n}", "community", "", "社区", *SITE),
                [service.ShiftInput(starts, starts + timedelta(hours=3), capacity)],
            )
            shift_ids.append(service.shifts_of(session, activity)[0].id)
        return shift_ids


def test_five_sign_ups_sent_at_once_by_one_volunteer_take_one_place(tmp_path: Path) -> None:
    """Issue 12: five requests of one volunteer for one shift took five places and filled it."""
    with fresh_database_url(tmp_path, "signup_http") as url:
        db = Database(url)
        try:
            ids = _committed_world(db)
            [shift_id] = _shifts(db, ids, 1, capacity=5)
            with db.transaction(write=False) as session:
                phone = session.get(Person, ids["alice"]).phone
        finally:
            db.dispose()
        with running_server(url, tmp_path / "server.log") as base:
            token = httpx.post(
                f"{base}/api/v1/auth/tokens",
                timeout=30,
                json={
                    "phone": phone,
                    "password": PASSWORD,
                    "name": "race",
                    "scopes": ["read", "volunteer.participate"],
                },
            )
            assert token.status_code == 201, token.text
            headers = {"Authorization": f"Bearer {token.json()['token']}"}
            # A token's first use records it (an UPDATE of the token's row), which would queue
            # the five requests one behind another; a phone's token has been used before.
            seen = httpx.get(f"{base}/api/v1/volunteer/me/signups", headers=headers, timeout=30)
            assert seen.status_code == 200, seen.text
            statuses: list[int] = []

            def send() -> None:
                response = httpx.post(
                    f"{base}/api/v1/volunteer/shifts/{shift_id}/signups",
                    headers=headers,
                    timeout=60,
                )
                statuses.append(response.status_code)

            succeeded, errors = race([send for _ in range(5)])
            assert (succeeded, errors) == (5, [])
            assert sorted(statuses) == [201, 409, 409, 409, 409]
        db = Database(url)
        try:
            with db.transaction(write=False) as session:
                live = session.scalars(
                    select(Signup.status).where(
                        Signup.shift_id == shift_id, Signup.status != SignupStatus.cancelled
                    )
                ).all()
                assert live == [SignupStatus.confirmed]
                assert session.scalar(select(Shift.taken).where(Shift.id == shift_id)) == 1
        finally:
            db.dispose()


def test_sign_ups_for_shifts_at_the_same_time_sent_at_once_keep_one(db: Database) -> None:
    ids = _committed_world(db)
    shift_ids = _shifts(db, ids, 6, capacity=3)

    def sign_up(shift_id: int):  # type: ignore[no-untyped-def]
        def attempt() -> None:
            with db.transaction() as session:
                service.sign_up(session, Principal(person_id=ids["alice"], name=""), shift_id)

        return attempt

    succeeded, errors = race([sign_up(s) for s in shift_ids])
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"You are already signed up for a shift at the same time"}
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Signup.id))) == 1
        assert session.scalar(select(func.sum(Shift.taken))) == 1


def test_claims_of_a_benefit_sent_at_once_stay_within_the_per_person_limit(db: Database) -> None:
    """A benefit open to new volunteers: they have no totals row yet to lock."""
    ids = _committed_world(db)
    with db.transaction() as session:
        partner = session.get(Organisation, ids["partner"])
        staff = session.scalar(
            select(Membership.person_id).where(Membership.organisation_id == partner.id)
        )
        benefit = service.create_benefit(
            session,
            Principal(person_id=staff, name=""),
            partner,
            service.BenefitInput("博物馆门票", "", per_person_limit=2),
        )
        benefit_id = benefit.id
        assert session.get(VolunteerTotal, ids["alice"]) is None

    def claim() -> None:
        with db.transaction() as session:
            service.claim_benefit(session, Principal(person_id=ids["alice"], name=""), benefit_id)

    succeeded, errors = race([claim for _ in range(6)])
    assert succeeded == 2
    assert len(errors) == 4 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(BenefitClaim.id))) == 2
        assert session.scalar(select(Benefit.claimed).where(Benefit.id == benefit_id)) == 2
