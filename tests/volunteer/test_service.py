"""Volunteer service rules as volunteers and organisers meet them."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import credentials, events, notifications, people
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.models import Notification, OutboxMessage
from gongchuang.core.pdf import qr_svg
from gongchuang.core.permissions import SYSTEM
from gongchuang.volunteer import recommend, reports, service
from gongchuang.volunteer.models import (
    Activity,
    HoursEntry,
    Shift,
    Signup,
    SignupStatus,
    Volunteer,
)
from gongchuang.volunteer.service import checkin as checkin_service
from tests.support.principals import acting
from tests.volunteer.conftest import SITE, VolunteerWorld, move_shift, profile


def test_profile_keeps_location_only_with_consent(session: Session, vw: VolunteerWorld) -> None:
    volunteer = service.get_volunteer(session, vw.alice.id)
    assert volunteer is not None and volunteer.home_lat is not None
    assert people.has_consent(session, vw.alice.id, service.LOCATION_PURPOSE)
    assert people.has_consent(session, vw.alice.id, service.SERVICE_PURPOSE)
    service.save_profile(session, acting(vw.alice), profile(share_location=False))
    assert volunteer.home_lat is None and volunteer.home_lng is None
    assert not people.has_consent(session, vw.alice.id, service.LOCATION_PURPOSE)
    with pytest.raises(InvalidInput) as caught:
        service.save_profile(
            session,
            acting(vw.alice),
            profile(skills=["juggling"], birth_date=date(1800, 1, 1), home_lat=60.0),
        )
    assert {e["field"] for e in caught.value.errors} == {"skills", "birth_date", "home_lat"}
    assert volunteer.skills == ["first_aid"]


def test_card_verifies_and_reveals_little(session: Session, vw: VolunteerWorld) -> None:
    volunteer = service.get_volunteer(session, vw.alice.id)
    assert volunteer is not None
    card = service.verify_card(session, service.card_token(volunteer))
    assert card.masked_name == "志***" and card.valid and card.star == 0
    with pytest.raises(NotFound):
        service.verify_card(session, service.card_token(volunteer)[:-2] + "xx")


def test_activity_input_is_checked_whole(session: Session, vw: VolunteerWorld) -> None:
    before = session.scalar(select(func.count(Activity.id)))
    with pytest.raises(InvalidInput) as caught:
        vw.activity(session, category="juggling", lat=60.0, geofence_m=5)
    assert {e["field"] for e in caught.value.errors} == {"category", "lat", "geofence_m"}
    with pytest.raises(InvalidInput, match="shifts"):
        vw.activity(session, starts_in=-timedelta(hours=1))
    with pytest.raises(NotFound):  # only the organisation's staff publish
        service.create_activity(
            session,
            acting(vw.alice),
            vw.team,
            service.ActivityInput("x", "elderly", "", "p", *SITE),
            [],
        )
    assert session.scalar(select(func.count(Activity.id))) == before


def test_gcj02_coordinates_are_stored_as_wgs84(session: Session, vw: VolunteerWorld) -> None:
    from gongchuang.core import geo

    shifted = geo.wgs84_to_gcj02(*SITE)
    activity, _ = vw.activity(session, lat=shifted.lat, lng=shifted.lng, location_is_gcj02=True)
    assert abs(activity.lat - SITE[0]) < 1e-6 and abs(activity.lng - SITE[1]) < 1e-6


def test_sign_up_waitlist_and_promotion(session: Session, vw: VolunteerWorld) -> None:
    _, shift = vw.activity(session, capacity=1)
    first = service.sign_up(session, acting(vw.alice), shift.id)
    second = service.sign_up(session, acting(vw.bob), shift.id)
    assert (first.status, second.status, shift.taken) == ("confirmed", "waitlisted", 1)
    third = service.sign_up(session, acting(vw.carol), shift.id)
    assert [service.waitlist_position(session, s) for s in (first, second, third)] == [None, 1, 2]
    with pytest.raises(Conflict, match="already signed up"):
        service.sign_up(session, acting(vw.alice), shift.id)
    service.cancel_signup(session, acting(vw.alice), first)
    assert (first.status, second.status, shift.taken) == ("cancelled", "confirmed", 1)
    told = session.scalar(select(Notification).where(Notification.person_id == vw.bob.id).limit(1))
    assert told is not None and "place came free" in told.title
    again = service.sign_up(session, acting(vw.alice), shift.id)  # back at the end of the queue
    assert again.id == first.id and again.status == "waitlisted"
    assert service.waitlist_position(session, again) == 2  # behind carol


def test_sign_up_refusals_change_nothing(session: Session, vw: VolunteerWorld) -> None:
    _, shift = vw.activity(session)
    service.sign_up(session, acting(vw.alice), shift.id)
    _, same_time = vw.activity(session, title="同时的活动")
    with pytest.raises(Conflict, match="same time"):
        service.sign_up(session, acting(vw.alice), same_time.id)
    _, needs_age = vw.activity(session, starts_in=timedelta(days=3), min_age=18)
    with pytest.raises(InvalidInput, match="date of birth"):
        service.sign_up(session, acting(vw.bob), needs_age.id)
    service.save_profile(
        session, acting(vw.bob), profile(birth_date=date.today() - timedelta(days=365 * 12))
    )
    with pytest.raises(InvalidInput, match="aged 18"):
        service.sign_up(session, acting(vw.bob), needs_age.id)
    _, needs_aid = vw.activity(session, starts_in=timedelta(days=4), credential_kind="first_aid")
    with pytest.raises(InvalidInput, match="valid"):
        service.sign_up(session, acting(vw.carol), needs_aid.id)
    credentials.issue_credential(
        session,
        SYSTEM,
        vw.federation,
        vw.carol,
        kind="first_aid",
        title="救护员证",
        certificate_no="T-1",
        valid_from=utcnow() - timedelta(days=1),
        valid_until=utcnow() + timedelta(days=700),
    )
    assert service.sign_up(session, acting(vw.carol), needs_aid.id).status == "confirmed"
    move_shift(session, shift, utcnow() - timedelta(minutes=5))
    with pytest.raises(Conflict, match="already started"):
        service.sign_up(session, acting(vw.bob), shift.id)
    outsider = acting(vw.world.outsider)
    with pytest.raises(InvalidInput, match="Register"):
        service.sign_up(session, outsider, needs_aid.id)
    assert session.scalar(select(func.count(Signup.id)).where(Signup.person_id == vw.bob.id)) == 0


def _ready_to_check_in(session: Session, vw: VolunteerWorld, **changes):
    activity, shift = vw.activity(session, **changes)
    signup = service.sign_up(session, acting(vw.alice), shift.id)
    move_shift(session, shift, utcnow() + timedelta(minutes=10))
    return activity, shift, signup


def test_rotating_qr_check_in_and_out(session: Session, vw: VolunteerWorld, monkeypatch) -> None:
    _, shift, signup = _ready_to_check_in(session, vw)
    code = service.checkin_code(session, acting(vw.organiser), shift)
    result = service.check(session, acting(vw.alice), code=code)
    assert result.action == "in" and signup.status == "checked_in" and signup.check_method == "qr"
    with pytest.raises(Conflict, match="already used"):  # a photo of the code is no use
        service.check(session, acting(vw.alice), code=code)
    with pytest.raises(Conflict, match="no confirmed place"):
        service.check(session, acting(vw.bob), code=code)
    with pytest.raises(InvalidInput, match="not a check-in code"):
        service.check(session, acting(vw.alice), code=code[:-3] + "abc")
    monkeypatch.setattr(checkin_service, "CHECKIN_SECONDS", -60)
    stale = service.checkin_code(session, acting(vw.organiser), shift)
    with pytest.raises(InvalidInput, match="expired"):
        service.check(session, acting(vw.alice), code=stale)
    monkeypatch.setattr(checkin_service, "CHECKIN_SECONDS", 30)
    # An hour into the shift, the volunteer leaves an hour early.
    move_shift(session, shift, utcnow() - timedelta(hours=2))
    signup.checked_in_at = shift.starts_at
    out = service.check(
        session, acting(vw.alice), code=service.checkin_code(session, acting(vw.organiser), shift)
    )
    assert out.action == "out" and signup.status == "checked_out"
    assert 119 <= signup.pending_minutes <= 121 and 59 <= signup.early_minutes <= 61


def test_geofence(session: Session, vw: VolunteerWorld) -> None:
    _, shift, signup = _ready_to_check_in(session, vw)
    with pytest.raises(InvalidInput, match="metres from the activity"):
        service.check(session, acting(vw.alice), shift_id=shift.id, lat=SITE[0] + 0.01, lng=SITE[1])
    assert signup.status == "confirmed"
    service.check(session, acting(vw.alice), shift_id=shift.id, lat=SITE[0] + 0.001, lng=SITE[1])
    assert signup.status == "checked_in" and signup.check_method == "location"


def test_forgotten_check_out_and_no_shows(session: Session, vw: VolunteerWorld) -> None:
    _, shift = vw.activity(session, capacity=3)
    came = service.sign_up(session, acting(vw.alice), shift.id)
    absent = service.sign_up(session, acting(vw.bob), shift.id)
    move_shift(session, shift, utcnow() + timedelta(minutes=5))
    service.check(session, acting(vw.alice), shift_id=shift.id, lat=SITE[0], lng=SITE[1])
    move_shift(session, shift, utcnow() - timedelta(hours=4))
    came.checked_in_at = shift.starts_at + timedelta(minutes=10)
    out, no_shows = service.close_finished_shifts(session)
    assert (out, no_shows) == (1, 1)
    assert came.status == "checked_out" and came.auto_checked_out and came.pending_minutes == 170
    assert absent.status == "no_show"
    assert service.reliability(service.totals(session, vw.bob.id)) == 0


def _served(session: Session, vw: VolunteerWorld, person, minutes: int = 180):
    _activity, shift = vw.activity(session, capacity=5)
    signup = service.sign_up(session, acting(person), shift.id)
    move_shift(session, shift, utcnow() - timedelta(hours=4))
    signup.status = SignupStatus.checked_out
    signup.checked_in_at = shift.starts_at
    signup.pending_minutes = minutes
    session.flush()
    return service.get_signup(session, signup.id)


def test_hours_ledger_totals_and_corrections(session: Session, vw: VolunteerWorld) -> None:
    signup = _served(session, vw, vw.alice)
    with pytest.raises(NotFound):  # a volunteer does not confirm hours
        service.approve_hours(session, acting(vw.alice), [signup])
    service.save_profile(session, acting(vw.organiser), profile())
    own = _served(session, vw, vw.organiser)
    with pytest.raises(PermissionDenied):  # nor an organiser their own
        service.approve_hours(session, acting(vw.organiser), [own])
    with pytest.raises(InvalidInput, match="more than the shift"):
        service.approve_hours(session, acting(vw.organiser), [signup], minutes=200, reason="x")
    service.approve_hours(session, acting(vw.organiser), [signup])
    assert signup.status == "verified" and service.total_minutes(session, vw.alice.id) == 180
    published = session.scalar(
        select(OutboxMessage).where(OutboxMessage.topic == "volunteer.hours_verified")
    )
    assert published is not None and published.payload["minutes"] == 180
    service.correct_hours(session, acting(vw.organiser), signup, 120, "提前离开")
    entries = session.scalars(
        select(HoursEntry.kind, HoursEntry.minutes).where(HoursEntry.signup_id == signup.id)
    ).all()
    assert list(
        session.execute(
            select(HoursEntry.kind, HoursEntry.minutes)
            .where(HoursEntry.signup_id == signup.id)
            .order_by(HoursEntry.id)
        ).all()
    ) == [("verified", 180), ("reversal", -180), ("correction", 120)]
    assert entries and service.total_minutes(session, vw.alice.id) == 120
    with pytest.raises(Conflict):
        service.approve_hours(session, acting(vw.organiser), [signup])


def test_star_levels_follow_the_scheme(session: Session, vw: VolunteerWorld) -> None:
    assert service.star_level(session, 99 * 60) == 0
    assert service.star_level(session, 300 * 60) == 2
    assert service.star_level(session, 2000 * 60) == 5
    with pytest.raises(PermissionDenied):
        service.set_star_thresholds(session, acting(vw.organiser), [10, 20])
    with pytest.raises(InvalidInput):
        service.set_star_thresholds(session, SYSTEM, [20, 10])
    service.set_star_thresholds(session, SYSTEM, [2, 4])
    assert service.star_level(session, 3 * 60) == 1


def test_certificate(session: Session, vw: VolunteerWorld) -> None:
    from pypdf import PdfReader

    today = service.local_day(utcnow())
    with pytest.raises(InvalidInput, match="no verified hours"):
        service.issue_certificate(
            session, acting(vw.alice), period_from=today - timedelta(days=30), period_to=today
        )
    service.approve_hours(session, acting(vw.organiser), [_served(session, vw, vw.alice)])
    certificate = service.issue_certificate(
        session,
        acting(vw.alice),
        period_from=today - timedelta(days=30),
        period_to=today,
        organisation_id=vw.team.id,
    )
    assert certificate.minutes == 180 and certificate.organisation_name == vw.team.name
    found = service.certificate_by_code(session, certificate.code)
    assert service.mask_name(found.holder_name) == "志***"
    with pytest.raises(NotFound):
        service.get_certificate_for(session, acting(vw.bob), certificate.id)
    pdf = reports.certificate_pdf(certificate, "http://x/verify")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "志愿者甲" in text and "3.0 小时" in text and certificate.code in text


def test_benefits(session: Session, vw: VolunteerWorld) -> None:
    benefit = service.create_benefit(
        session,
        acting(vw.partner_staff),
        vw.partner,
        service.BenefitInput("免费参观", "", min_hours=3, per_person_limit=1, quota=1),
    )
    with pytest.raises(Conflict, match="3 hours"):
        service.claim_benefit(session, acting(vw.alice), benefit.id)
    for person in (vw.alice, vw.bob):
        service.approve_hours(session, acting(vw.organiser), [_served(session, vw, person)])
    claim = service.claim_benefit(session, acting(vw.alice), benefit.id)
    with pytest.raises(Conflict, match="as often as allowed"):
        service.claim_benefit(session, acting(vw.alice), benefit.id)
    with pytest.raises(Conflict, match="All of this benefit"):
        service.claim_benefit(session, acting(vw.bob), benefit.id)
    with pytest.raises(NotFound):  # only the partner verifies its codes
        service.use_claim(session, acting(vw.organiser), vw.partner, claim.code)
    service.use_claim(session, acting(vw.partner_staff), vw.partner, claim.code.lower())
    with pytest.raises(Conflict, match="already used"):
        service.use_claim(session, acting(vw.partner_staff), vw.partner, claim.code)


def test_mass_mobilisation_fills_by_distance_and_preference(
    session: Session, vw: VolunteerWorld
) -> None:
    tomorrow = service.local_day(utcnow()) + timedelta(days=1)
    call = service.create_call(
        session,
        acting(vw.organiser),
        vw.team,
        title="防汛值守",
        category="emergency",
        description="",
        sites=[
            service.Site("近点", SITE[0] + 0.01, SITE[1]),
            service.Site("远点", SITE[0] + 1.0, SITE[1]),
        ],
        first_day=tomorrow,
        days=2,
        slots=[(8, 12), (13, 17)],
        capacity=1,
    )
    assert service.call_shift_count(session, call) == 8
    for person, hours in ((vw.alice, [8]), (vw.bob, [13]), (vw.carol, [])):
        service.answer_call(
            session, acting(person), call, max_km=20, preferred_hours=hours, max_shifts=3
        )
    placed = service.fill_call(session, acting(vw.organiser), call)
    # Only the near site is within 20 km: its 4 shifts, one place each.
    assert placed == 4
    rows = session.execute(
        select(Signup.person_id, Shift.starts_at)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.status == "confirmed")
    ).all()
    by_person: dict[int, list] = {}
    for person_id, starts in rows:
        by_person.setdefault(person_id, []).append(starts.astimezone(service.SHANGHAI).hour)
    assert all(h == 8 for h in by_person[vw.alice.id])
    assert all(h == 13 for h in by_person[vw.bob.id])
    board = service.fill_board(session, call)
    near = [r for r in board if r.site == "近点"]
    assert [r.percent for r in near] == [100, 100]
    assert service.fill_call(session, acting(vw.organiser), call) == 0  # nothing left nearby


def test_activity_cancellation_tells_everyone(session: Session, vw: VolunteerWorld) -> None:
    activity, shift = vw.activity(session, capacity=1)
    service.sign_up(session, acting(vw.alice), shift.id)
    service.sign_up(session, acting(vw.bob), shift.id)
    assert service.cancel_activity(session, acting(vw.organiser), activity, "暴雨预警") == 2
    assert (
        session.scalar(
            select(func.count(Notification.id)).where(Notification.kind == "volunteer.activity")
        )
        == 2
    )
    assert {s.status for s in session.scalars(select(Signup))} == {"cancelled"}
    assert notifications.unread_count(session, vw.alice.id) >= 1


def test_capacity_change_moves_the_waitlist(session: Session, vw: VolunteerWorld) -> None:
    _, shift = vw.activity(session, capacity=1)
    service.sign_up(session, acting(vw.alice), shift.id)
    waiting = service.sign_up(session, acting(vw.bob), shift.id)
    with pytest.raises(InvalidInput):
        service.set_capacity(session, acting(vw.organiser), shift, 0)
    service.set_capacity(session, acting(vw.organiser), shift, 2)
    assert waiting.status == "confirmed" and shift.taken == 2


def test_recommendation_prefers_near_and_interesting(session: Session, vw: VolunteerWorld) -> None:
    near, _ = vw.activity(session, title="近处助老", category="elderly")
    vw.activity(session, title="远处讲座", category="culture", lat=SITE[0] + 0.5, lng=SITE[1])
    volunteer = session.scalar(select(Volunteer).where(Volunteer.person_id == vw.alice.id))
    assert volunteer is not None
    ranked = recommend.for_volunteer(session, volunteer)
    assert ranked[0][0].id == near.id


def test_verified_hours_become_village_points(session: Session, vw: VolunteerWorld) -> None:
    """Through the event only: the points module listens by topic name."""
    from gongchuang.core import organisations as orgs
    from gongchuang.modules import load_modules
    from gongchuang.points import service as points

    load_modules()  # as a worker does: each module's subscribers registered

    village = vw.world.village_a
    orgs.add_member(session, SYSTEM, village, phone=vw.alice.phone, roles=["member"], check=False)
    points.create_catalogue(session, SYSTEM, village, template_code="youxiqiao")
    points.create_household(session, SYSTEM, village, name="甲户", member_phones=[vw.alice.phone])
    service.approve_hours(session, acting(vw.organiser), [_served(session, vw, vw.alice, 150)])
    message = session.scalar(
        select(OutboxMessage).where(OutboxMessage.topic == "volunteer.hours_verified")
    )
    assert message is not None
    for handler in events._subscribers["volunteer.hours_verified"]:
        handler(session, message)
    records = points.records_query(village, person_id=vw.alice.id)
    made = session.scalars(records).unique().all()
    assert [(r.rule_code, r.points, r.status) for r in made] == [("GY04", 2, "pending")]


def test_qr_codes_are_light_enough_for_a_cheap_phone() -> None:
    from xml.etree import ElementTree

    svg = qr_svg("http://127.0.0.1:8000/volunteer/check?code=" + "x" * 120, 260)
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg") and len(root) == 2  # a white square and one path
    assert len(svg) < 10_000
