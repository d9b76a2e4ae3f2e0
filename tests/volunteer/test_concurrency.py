"""Sign-ups and claims raced by real threads and processes against a committed database
(PostgreSQL in the PostgreSQL run): 200 volunteers for 50 places, one volunteer racing
themselves, which the database or a lock on their profile row must hold, and decisions taken
once (a cancel, confirmed or corrected hours, an absence, a benefit code used) however many
taps or organisers send them at once. Last, two that need no race: checking in beside a
cancelled sign-up, and a claim code drawn a second time."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict
from gongchuang.core.models import (
    AuditEntry,
    Membership,
    Organisation,
    OrganisationKind,
    OutboxMessage,
    Person,
)
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.volunteer import service
from gongchuang.volunteer.models import (
    Benefit,
    BenefitClaim,
    HoursEntry,
    Shift,
    Signup,
    SignupStatus,
    Volunteer,
    VolunteerTotal,
)
from gongchuang.volunteer.service import partner_benefits as benefit_service
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database, fresh_database_url
from tests.support.principals import acting
from tests.support.servers import running_server
from tests.support.world import PASSWORD, build_world, make_person
from tests.volunteer.conftest import SITE, VolunteerWorld, move_shift, profile, vw


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
            "bob": built.bob.id,
            "carol": built.carol.id,
            "organiser": built.organiser.id,
            "partner_staff": built.partner_staff.id,
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


# --- decisions taken once: two taps, or two people, on the same thing -------------------------


def _as(person_id: int) -> Principal:
    return Principal(person_id=person_id, name="")


def _signed_up(db: Database, ids: dict[str, int], people: list[str], capacity: int) -> list[int]:
    """Sign-ups of `people`, in that order, for one shift tomorrow."""
    [shift_id] = _shifts(db, ids, 1, capacity=capacity)
    with db.transaction() as session:
        return [service.sign_up(session, _as(ids[p]), shift_id).id for p in people]


def _after_the_shift(db: Database, signup_ids: list[int], *, checked_out: bool) -> None:
    """Time passes: the shift ended an hour ago; its volunteers checked out with 180 minutes
    waiting for the organiser, or (`checked_out=False`) never came."""
    with db.transaction() as session:
        for signup_id in signup_ids:
            signup = session.get(Signup, signup_id)
            shift = session.get(Shift, signup.shift_id)
            shift.starts_at = utcnow() - timedelta(hours=4)
            shift.ends_at = shift.starts_at + timedelta(hours=3)
            if checked_out:
                signup.status = SignupStatus.checked_out
                signup.checked_in_at = shift.starts_at
                signup.checked_out_at = shift.ends_at
                signup.pending_minutes = 180


def _hours_of(db: Database, person_id: int) -> tuple[list[tuple[str, int]], VolunteerTotal]:
    with db.transaction(write=False) as session:
        ledger = session.execute(
            select(HoursEntry.kind, HoursEntry.minutes)
            .where(HoursEntry.person_id == person_id)
            .order_by(HoursEntry.id)
        ).all()
        return [tuple(row) for row in ledger], session.get(VolunteerTotal, person_id)


def test_cancels_of_one_place_sent_at_once_give_it_back_once(db: Database) -> None:
    """Both cancels freed the place: two waiting volunteers were promoted to one place."""
    ids = _committed_world(db)
    alice, bob, carol = _signed_up(db, ids, ["alice", "bob", "carol"], capacity=1)

    def cancel() -> None:
        with db.transaction() as session:
            signup = service.get_signup(session, alice)
            service.cancel_signup(session, _as(ids["alice"]), signup)

    succeeded, errors = race([cancel for _ in range(4)])
    assert succeeded == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"Only a place not yet used can be cancelled"}
    with db.transaction(write=False) as session:
        statuses = {s.id: s.status for s in session.scalars(select(Signup))}
        assert statuses == {alice: "cancelled", bob: "confirmed", carol: "waitlisted"}
        assert session.scalar(select(Shift.taken)) == 1


def test_hours_confirmed_twice_at_once_are_counted_once(db: Database) -> None:
    """An organiser's double tap: two ledger entries, twice the hours, two points events."""
    ids = _committed_world(db)
    [signup_id] = _signed_up(db, ids, ["alice"], capacity=2)
    _after_the_shift(db, [signup_id], checked_out=True)

    def approve() -> None:
        with db.transaction() as session:
            signup = service.get_signup(session, signup_id)
            service.approve_hours(session, _as(ids["organiser"]), [signup])

    succeeded, errors = race([approve for _ in range(4)])
    assert succeeded == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"Only hours waiting for confirmation can be confirmed"}
    ledger, total = _hours_of(db, ids["alice"])
    assert ledger == [("verified", 180)]
    assert (total.minutes, total.completed_shifts) == (180, 1)
    with db.transaction(write=False) as session:
        published = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.topic == "volunteer.hours_verified")
        ).all()
        assert [p["minutes"] for p in published] == [180]


def test_bulk_confirmations_of_the_same_hours_sent_at_once_count_them_once(db: Database) -> None:
    """Two organisers' lists, in opposite orders: one confirms them all, the other nothing
    (all or nothing), and neither waits forever on the other."""
    ids = _committed_world(db)
    signup_ids = _signed_up(db, ids, ["alice", "bob", "carol"], capacity=3)
    _after_the_shift(db, signup_ids, checked_out=True)

    def approve(order: list[int]):  # type: ignore[no-untyped-def]
        def attempt() -> None:
            with db.transaction() as session:
                signups = [service.get_signup(session, i) for i in order]
                service.approve_hours(session, _as(ids["organiser"]), signups)

        return attempt

    succeeded, errors = race([approve(signup_ids), approve(signup_ids[::-1])] * 2)
    assert succeeded == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    for person in ("alice", "bob", "carol"):
        ledger, total = _hours_of(db, ids[person])
        assert (ledger, total.minutes, total.completed_shifts) == ([("verified", 180)], 180, 1)


def test_corrections_sent_at_once_correct_the_hours_once(db: Database) -> None:
    """Both reversed the first figure: 180 minutes corrected to 120 twice left 60."""
    ids = _committed_world(db)
    [signup_id] = _signed_up(db, ids, ["alice"], capacity=2)
    _after_the_shift(db, [signup_id], checked_out=True)
    with db.transaction() as session:
        signup = service.get_signup(session, signup_id)
        service.approve_hours(session, _as(ids["organiser"]), [signup])

    def correct() -> None:
        with db.transaction() as session:
            signup = service.get_signup(session, signup_id)
            service.correct_hours(session, _as(ids["organiser"]), signup, 120, "提前离开")

    succeeded, errors = race([correct for _ in range(4)])
    assert succeeded == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {
        "These hours are already %(h)s hours; nothing was corrected"
    }
    ledger, total = _hours_of(db, ids["alice"])
    assert ledger == [("verified", 180), ("reversal", -180), ("correction", 120)]
    assert (total.minutes, total.completed_shifts) == (120, 1)


def test_absences_marked_at_once_count_once(db: Database) -> None:
    """Two taps on "absent", and the job closing the shift: the volunteer's reliability fell
    by three no-shows for one."""
    ids = _committed_world(db)
    [signup_id] = _signed_up(db, ids, ["alice"], capacity=2)
    _after_the_shift(db, [signup_id], checked_out=False)
    closed: list[int] = []

    def mark() -> None:
        with db.transaction() as session:
            signup = service.get_signup(session, signup_id)
            service.mark_no_show(session, _as(ids["organiser"]), signup)

    def close() -> None:
        with db.transaction() as session:
            closed.append(service.close_finished_shifts(session)[1])

    succeeded, errors = race([mark, mark, mark, close])
    assert all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} <= {
        "Only a confirmed volunteer who has not come can be marked absent"
    }
    assert (succeeded - len(closed)) + sum(closed) == 1  # one absence recorded, by whoever
    with db.transaction(write=False) as session:
        assert session.scalar(select(Signup.status).where(Signup.id == signup_id)) == "no_show"
        assert session.get(VolunteerTotal, ids["alice"]).no_shows == 1


def test_a_benefit_code_shown_twice_at_once_is_used_once(db: Database) -> None:
    """Two tills scanning one code both handed the benefit over."""
    ids = _committed_world(db)
    with db.transaction() as session:
        partner = session.get(Organisation, ids["partner"])
        benefit = service.create_benefit(
            session, _as(ids["partner_staff"]), partner, service.BenefitInput("博物馆门票", "")
        )
        code = service.claim_benefit(session, _as(ids["alice"]), benefit.id).code

    def use() -> None:
        with db.transaction() as session:
            partner = session.get(Organisation, ids["partner"])
            service.use_claim(session, _as(ids["partner_staff"]), partner, code)

    succeeded, errors = race([use for _ in range(4)])
    assert succeeded == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"This code was already used"}
    with db.transaction(write=False) as session:
        uses = session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "volunteer.benefit.use")
        )
        assert uses == 1


def test_first_registrations_sent_at_once_make_one_profile(db: Database) -> None:
    """The second request stopped at the unique person and answered a bare 409."""
    with db.transaction() as session:
        build_world(session)
        person_id = make_person(session, "13800000001", "新志愿者").id

    def register() -> None:
        with db.transaction() as session:
            service.save_profile(session, _as(person_id), profile())

    succeeded, errors = race([register for _ in range(4)])
    assert (succeeded, errors) == (4, [])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Volunteer.id))) == 1


def test_check_in_finds_the_live_place_beside_a_cancelled_one(
    session: Session, vw: VolunteerWorld
) -> None:
    """Cancelled, then placed again by a call: check-in read the cancelled row and said there
    was no confirmed place."""
    call = service.create_call(
        session,
        acting(vw.organiser),
        vw.team,
        title="防汛值守",
        category="emergency",
        description="",
        sites=[service.Site("堤坝", *SITE)],
        first_day=service.local_day(utcnow()) + timedelta(days=1),
        days=1,
        slots=[(8, 12)],
        capacity=2,
    )
    shift = session.scalar(select(Shift))
    first = service.sign_up(session, acting(vw.alice), shift.id)
    service.cancel_signup(session, acting(vw.alice), first)
    service.answer_call(session, acting(vw.alice), call, max_km=5, preferred_hours=[], max_shifts=1)
    assert service.fill_call(session, acting(vw.organiser), call) == 1
    assert session.scalar(select(func.count(Signup.id))) == 2
    move_shift(session, shift, utcnow() + timedelta(minutes=10), hours=4)
    result = service.check(session, acting(vw.alice), shift_id=shift.id, lat=SITE[0], lng=SITE[1])
    assert (result.action, result.status) == ("in", "checked_in")
    assert result.signup_id != first.id


def test_a_claim_code_an_earlier_claim_has_is_drawn_again(
    session: Session, vw: VolunteerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight characters repeat among many claims: the unique code refused the later claim."""
    benefit = service.create_benefit(
        session, acting(vw.partner_staff), vw.partner, service.BenefitInput("免费参观", "")
    )
    draws = iter(["a1b2c3d4", "a1b2c3d4", "e5f6a7b8"])
    monkeypatch.setattr(benefit_service.secrets, "token_hex", lambda _bytes: next(draws))
    first = service.claim_benefit(session, acting(vw.alice), benefit.id)
    second = service.claim_benefit(session, acting(vw.bob), benefit.id)
    assert (first.code, second.code) == ("A1B2C3D4", "E5F6A7B8")
