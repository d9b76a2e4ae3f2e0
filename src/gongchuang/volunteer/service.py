"""Volunteer service: profiles and e-cards, activities and shifts, sign-up with waitlists,
verified check-in and out, the hours ledger, star levels, certificates, benefits and mass
mobilisation. Recommendation is in `recommend.py`, figures in `reports.py`.
"""

from __future__ import annotations

import functools
import itertools
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, Select, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from gongchuang.config import get_settings
from gongchuang.core import audit, credentials, events, geo, notifications, people
from gongchuang.core.clock import SHANGHAI, local_midnight, utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Organisation, Person, Region
from gongchuang.core.pagination import NumberedPage, numbered_page
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.volunteer.models import (
    Activity,
    ActivityStatus,
    Benefit,
    BenefitClaim,
    Call,
    CallVolunteer,
    Certificate,
    Feedback,
    HoursEntry,
    Shift,
    Signup,
    SignupStatus,
    StarScheme,
    UsedCheckinCode,
    Volunteer,
    VolunteerTotal,
)
from gongchuang.volunteer.permissions import VolunteerPerm

events.register_topic("volunteer.hours_verified", N_("A volunteer's service hours were verified"))
events.register_topic("volunteer.activity_cancelled", N_("A volunteer activity was cancelled"))
events.register_topic(
    "volunteer.responder_invited", N_("A first-aider was invited into the responder network")
)

CATEGORIES = {
    "community": N_("Community service"),
    "elderly": N_("Elderly care"),
    "environment": N_("Environment"),
    "education": N_("Education and tutoring"),
    "emergency": N_("Emergency and first aid"),
    "culture": N_("Culture and sport"),
    "health": N_("Health and epidemic prevention"),
    "events": N_("Large events"),
    "rural": N_("Rural revitalisation"),
}
SKILLS = {
    "first_aid": N_("First aid"),
    "driving": N_("Driving"),
    "teaching": N_("Teaching"),
    "medical": N_("Medical"),
    "it": N_("Computers and phones"),
    "translation": N_("Translation"),
    "sign_language": N_("Sign language"),
    "photography": N_("Photography"),
    "counselling": N_("Counselling"),
    "law": N_("Legal advice"),
}
AVAILABILITY = {
    "weekday_day": N_("Weekday daytime"),
    "weekday_evening": N_("Weekday evenings"),
    "weekend": N_("Weekends"),
}
NATIONAL_STARS = [100, 300, 600, 1000, 1500]  # hours for one to five stars
CHECKIN_SECONDS = 30  # a QR code on the organiser's screen is good for this long
CHECKIN_GRACE_SECONDS = 10  # for a slow phone between scanning and sending
EARLY_CHECKIN = timedelta(minutes=30)
NO_SHOW_AFTER = timedelta(minutes=30)  # past the start with no check-in
MAX_SHIFT = timedelta(hours=24)
LOCATION_PURPOSE = "volunteer_location"
SERVICE_PURPOSE = "volunteer_service"
people.register_consent_purpose(
    SERVICE_PURPOSE, N_("Keep my volunteer profile to offer me activities and record my hours")
)
people.register_consent_purpose(
    LOCATION_PURPOSE, N_("Keep my home location to suggest volunteer activities near me")
)


def home_point(session: Session, volunteer: Volunteer) -> geo.Point | None:
    """The volunteer's home, only while they consent to its use for matching."""
    if volunteer.home_lat is None or volunteer.home_lng is None:
        return None
    if not people.has_consent(session, volunteer.person_id, LOCATION_PURPOSE):
        return None
    return geo.Point(volunteer.home_lat, volunteer.home_lng)


@functools.cache
def _serializer(salt: str) -> URLSafeTimedSerializer:
    # Built once: deriving the signing key costs more than checking a code.
    return URLSafeTimedSerializer(get_settings().secret_key, salt=salt)


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# --- profiles ---------------------------------------------------------------------------------


@dataclass
class ProfileInput:
    skills: list[str]
    interests: list[str]
    languages: list[str]
    availability: list[str]
    birth_date: date | None = None
    home_region_code: str | None = None
    home_lat: float | None = None
    home_lng: float | None = None
    location_is_gcj02: bool = False
    share_location: bool = False


def get_volunteer(session: Session, person_id: int | None) -> Volunteer | None:
    if person_id is None:
        return None
    return session.scalar(select(Volunteer).where(Volunteer.person_id == person_id))


def require_volunteer(session: Session, principal: Principal) -> Volunteer:
    volunteer = get_volunteer(session, principal.person_id)
    if volunteer is None:
        raise InvalidInput(N_("Register as a volunteer first"))
    return volunteer


def _validate_profile(session: Session, data: ProfileInput) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []
    unknown = [s for s in data.skills if s not in SKILLS]
    if unknown:
        errors.append({"field": "skills", "message": f"unknown: {', '.join(unknown)}"})
    unknown = [i for i in data.interests if i not in CATEGORIES]
    if unknown:
        errors.append({"field": "interests", "message": f"unknown: {', '.join(unknown)}"})
    unknown = [a for a in data.availability if a not in AVAILABILITY]
    if unknown:
        errors.append({"field": "availability", "message": f"unknown: {', '.join(unknown)}"})
    languages = []
    for raw in data.languages[:10]:
        try:
            languages.append(clean_text(raw, "languages", max_length=30))
        except InvalidInput:
            errors.append({"field": "languages", "message": gettext("one short name each")})
    today = local_day(utcnow())
    if data.birth_date is not None and not (
        today.replace(year=today.year - 110) < data.birth_date <= today
    ):
        errors.append({"field": "birth_date", "message": gettext("not a plausible birth date")})
    region_id = None
    if data.home_region_code:
        region_id = session.scalar(select(Region.id).where(Region.code == data.home_region_code))
        if region_id is None:
            errors.append({"field": "home_region_code", "message": gettext("no such region")})
    lat = lng = None
    if data.share_location and data.home_lat is not None and data.home_lng is not None:
        point = geo.point_in_china(data.home_lat, data.home_lng, data.location_is_gcj02)
        if point is None:
            errors.append({"field": "home_lat", "message": gettext("not a place in China")})
        else:
            lat, lng = round(point.lat, 4), round(point.lng, 4)  # ~10 m is plenty to match
    if errors:
        raise InvalidInput(N_("Some of the profile is not valid; nothing was saved"), errors=errors)
    return {
        "skills": sorted(set(data.skills)),
        "interests": sorted(set(data.interests)),
        "languages": languages,
        "availability": sorted(set(data.availability)),
        "birth_date": data.birth_date,
        "home_region_id": region_id,
        "home_lat": lat,
        "home_lng": lng,
    }


PROFILE_FIELDS = ("skills", "interests", "languages", "availability", "home_region_id")


def save_profile(session: Session, actor: Principal, data: ProfileInput) -> Volunteer:
    """Register (or update) the acting person as a volunteer. Location is kept only with the
    volunteer's consent to location-based matching; withdrawing it erases the location."""
    if actor.person_id is None:
        raise PermissionDenied()
    values = _validate_profile(session, data)
    person = people.get_person(session, actor.person_id)
    volunteer = get_volunteer(session, actor.person_id)
    before = audit.snapshot(volunteer, PROFILE_FIELDS) if volunteer else None
    if volunteer is None:
        volunteer = _register(session, person)
        if volunteer is None:  # registered a moment ago by another request: update that
            volunteer = get_volunteer(session, actor.person_id)
            assert volunteer is not None
            before = audit.snapshot(volunteer, PROFILE_FIELDS)
        else:
            people.set_consent(session, actor, person, SERVICE_PURPOSE, True)
    for name, value in values.items():
        setattr(volunteer, name, value)
    if people.has_consent(session, person.id, LOCATION_PURPOSE) != data.share_location:
        people.set_consent(session, actor, person, LOCATION_PURPOSE, data.share_location)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.profile.register" if before is None else "volunteer.profile.update",
        "volunteer_profile",
        volunteer.id,
        before=before,
        after={
            **audit.snapshot(volunteer, PROFILE_FIELDS),
            "location": volunteer.home_lat is not None,
        },
    )
    return volunteer


def _register(session: Session, person: Person) -> Volunteer | None:
    """The person's new profile; None if another request of theirs made it first (the unique
    person stops this one, in a savepoint so that the request goes on)."""
    volunteer = Volunteer(person_id=person.id, card_code=secrets.token_urlsafe(12))
    try:
        with session.begin_nested():
            session.add(volunteer)
            session.flush()
    except IntegrityError:
        return None
    return volunteer


def is_real_name(person: Person) -> bool:
    """Real-name verified: a resident ID on file (checked by its GB 11643 check digit)."""
    return person.id_number_hash is not None


def card_token(volunteer: Volunteer) -> str:
    return URLSafeSerializer(get_settings().secret_key, salt="volunteer-card").dumps(
        volunteer.card_code
    )


@dataclass
class CardView:
    masked_name: str
    real_name: bool
    star: int
    hours: float
    since: date
    valid: bool


def verify_card(session: Session, token: str) -> CardView:
    try:
        code = URLSafeSerializer(get_settings().secret_key, salt="volunteer-card").loads(token)
    except BadSignature:
        raise NotFound(N_("This volunteer card is not genuine")) from None
    volunteer = session.scalar(
        select(Volunteer).options(joinedload(Volunteer.person)).where(Volunteer.card_code == code)
    )
    if volunteer is None:
        raise NotFound(N_("This volunteer card is not genuine"))
    minutes = total_minutes(session, volunteer.person_id)
    return CardView(
        masked_name=mask_name(volunteer.person.name),
        real_name=is_real_name(volunteer.person),
        star=star_level(session, minutes),
        hours=round(minutes / 60, 1),
        since=local_day(volunteer.registered_at),
        valid=volunteer.person.is_active,
    )


# --- stars ------------------------------------------------------------------------------------


def star_thresholds(session: Session) -> list[int]:
    scheme = session.scalar(select(StarScheme).order_by(StarScheme.id.desc()).limit(1))
    return list(scheme.thresholds) if scheme else list(NATIONAL_STARS)


def set_star_thresholds(session: Session, actor: Principal, thresholds: list[int]) -> list[int]:
    if not actor.is_platform_admin:
        raise PermissionDenied()
    if (
        not 1 <= len(thresholds) <= 10
        or any(b <= a for a, b in itertools.pairwise(thresholds))
        or thresholds[0] < 1
    ):
        raise InvalidInput(N_("Give one to ten increasing numbers of hours"))
    before = star_thresholds(session)
    session.add(StarScheme(thresholds=thresholds))
    audit.record(
        session,
        actor,
        "volunteer.stars.set",
        "volunteer_star_scheme",
        "platform",
        before={"thresholds": before},
        after={"thresholds": thresholds},
    )
    return thresholds


def star_level(session: Session, minutes: int, thresholds: list[int] | None = None) -> int:
    hours = minutes / 60
    return sum(1 for t in (thresholds or star_thresholds(session)) if hours >= t)


def total_minutes(session: Session, person_id: int) -> int:
    return (
        session.scalar(select(VolunteerTotal.minutes).where(VolunteerTotal.person_id == person_id))
        or 0
    )


def totals(session: Session, person_id: int) -> VolunteerTotal:
    row = session.get(VolunteerTotal, person_id)
    return row or VolunteerTotal(person_id=person_id, minutes=0, completed_shifts=0, no_shows=0)


def reliability(total: VolunteerTotal) -> int | None:
    """Percent of shifts turned up for, of those that counted; None before any."""
    counted = total.completed_shifts + total.no_shows
    return round(100 * total.completed_shifts / counted) if counted else None


# --- activities and shifts --------------------------------------------------------------------


def can_manage(session: Session, principal: Principal, organisation: Organisation) -> bool:
    return has_permission(session, principal, VolunteerPerm.MANAGE, organisation)


def get_activity(session: Session, activity_id: int) -> Activity:
    activity = session.scalar(
        select(Activity)
        .options(joinedload(Activity.organisation))
        .where(Activity.id == activity_id)
    )
    if activity is None:
        raise NotFound()
    return activity


def get_activity_to_manage(session: Session, principal: Principal, activity_id: int) -> Activity:
    activity = get_activity(session, activity_id)
    if not can_manage(session, principal, activity.organisation):
        raise NotFound()
    return activity


@dataclass
class ActivityInput:
    title: str
    category: str
    description: str
    place: str
    lat: float
    lng: float
    location_is_gcj02: bool = False
    geofence_m: int = 300
    min_age: int | None = None
    credential_kind: str | None = None
    skills_wanted: list[str] | None = None
    contact_name: str = ""
    contact_phone: str = ""


@dataclass
class ShiftInput:
    starts_at: datetime
    ends_at: datetime
    capacity: int


def _validate_activity(data: ActivityInput) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []

    def text(value: str, name: str, limit: int, required: bool = True) -> str:
        try:
            return clean_text(value, name, max_length=limit, required=required)
        except InvalidInput as exc:
            errors.append({"field": name, "message": exc.detail()})
            return ""

    values: dict[str, Any] = {
        "title": text(data.title, "title", 200),
        "description": text(data.description, "description", 5000, required=False),
        "place": text(data.place, "place", 200),
        "contact_name": text(data.contact_name, "contact_name", 100, required=False),
        "contact_phone": text(data.contact_phone, "contact_phone", 20, required=False),
    }
    if data.category not in CATEGORIES:
        errors.append({"field": "category", "message": gettext("unknown category")})
    point = geo.point_in_china(data.lat, data.lng, data.location_is_gcj02)
    if point is None:
        errors.append({"field": "lat", "message": gettext("not a place in China")})
    if not 30 <= data.geofence_m <= 5000:
        errors.append({"field": "geofence_m", "message": gettext("between 30 and 5000 metres")})
    if data.min_age is not None and not 0 <= data.min_age <= 100:
        errors.append({"field": "min_age", "message": gettext("between 0 and 100")})
    if data.credential_kind and data.credential_kind not in credentials.CREDENTIAL_KINDS:
        errors.append({"field": "credential_kind", "message": gettext("unknown credential")})
    unknown = [s for s in data.skills_wanted or [] if s not in SKILLS]
    if unknown:
        errors.append({"field": "skills_wanted", "message": f"unknown: {', '.join(unknown)}"})
    if errors:
        raise InvalidInput(N_("The activity is not valid; nothing was saved"), errors=errors)
    assert point is not None
    return {
        **values,
        "category": data.category,
        "lat": point.lat,
        "lng": point.lng,
        "geofence_m": data.geofence_m,
        "min_age": data.min_age,
        "credential_kind": data.credential_kind or None,
        "skills_wanted": sorted(set(data.skills_wanted or [])),
    }


def _validate_shifts(shifts: list[ShiftInput], *, now: datetime) -> None:
    errors = []
    for index, shift in enumerate(shifts, start=1):
        if shift.ends_at <= shift.starts_at:
            errors.append({"line": index, "message": gettext("ends before it starts")})
        elif shift.ends_at - shift.starts_at > MAX_SHIFT:
            errors.append({"line": index, "message": gettext("longer than 24 hours")})
        if shift.starts_at <= now:
            errors.append({"line": index, "message": gettext("starts in the past")})
        if not 1 <= shift.capacity <= 10_000:
            errors.append({"line": index, "message": gettext("capacity 1 to 10000")})
    if errors:
        raise InvalidInput(N_("Some shifts are not valid; nothing was saved"), errors=errors)


ACTIVITY_FIELDS = ("title", "category", "place", "lat", "lng", "geofence_m", "min_age", "status")


def create_activity(
    session: Session,
    actor: Principal,
    organisation: Organisation,
    data: ActivityInput,
    shifts: list[ShiftInput],
) -> Activity:
    if not can_manage(session, actor, organisation):
        raise NotFound()
    values = _validate_activity(data)
    if not shifts:
        raise InvalidInput(N_("An activity needs at least one shift"))
    _validate_shifts(shifts, now=utcnow())
    activity = Activity(
        organisation_id=organisation.id,
        status=ActivityStatus.open,
        created_by_person_id=actor.person_id,
        **values,
    )
    session.add(activity)
    session.flush()
    session.add_all(
        Shift(
            activity_id=activity.id,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            capacity=s.capacity,
            taken=0,
        )
        for s in shifts
    )
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.activity.create",
        "volunteer_activity",
        activity.id,
        after={**audit.snapshot(activity, ACTIVITY_FIELDS), "shifts": len(shifts)},
    )
    return activity


def update_activity(
    session: Session, actor: Principal, activity: Activity, data: ActivityInput
) -> Activity:
    """Details change; sign-ups stay. Volunteers already signed up are told."""
    if not can_manage(session, actor, activity.organisation):
        raise NotFound()
    if activity.status == ActivityStatus.cancelled:
        raise Conflict(N_("This activity was cancelled"))
    values = _validate_activity(data)
    before = audit.snapshot(activity, ACTIVITY_FIELDS)
    moved = (values["lat"], values["lng"], values["place"]) != (
        activity.lat,
        activity.lng,
        activity.place,
    )
    for name, value in values.items():
        setattr(activity, name, value)
    audit.record(
        session,
        actor,
        "volunteer.activity.update",
        "volunteer_activity",
        activity.id,
        before=before,
        after=audit.snapshot(activity, ACTIVITY_FIELDS),
    )
    if moved:
        for person_id in _signed_up_people(session, activity):
            notifications.notify(
                session,
                person_id,
                kind="volunteer.activity",
                title=N_("The place of an activity you signed up for has changed"),
                body=activity.place,
                link=f"/volunteer/activities/{activity.id}",
            )
    return activity


def add_shift(session: Session, actor: Principal, activity: Activity, shift: ShiftInput) -> Shift:
    if not can_manage(session, actor, activity.organisation):
        raise NotFound()
    if activity.status == ActivityStatus.cancelled:
        raise Conflict(N_("This activity was cancelled"))
    _validate_shifts([shift], now=utcnow())
    row = Shift(
        activity_id=activity.id,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        capacity=shift.capacity,
        taken=0,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.shift.add",
        "volunteer_shift",
        row.id,
        after={"activity": activity.id, "capacity": shift.capacity},
    )
    return row


def set_capacity(session: Session, actor: Principal, shift: Shift, capacity: int) -> Shift:
    """Capacity may grow (the waitlist moves up) or shrink, never below the places taken."""
    activity = get_activity(session, shift.activity_id)
    if not can_manage(session, actor, activity.organisation):
        raise NotFound()
    if not shift.taken <= capacity <= 10_000:
        raise InvalidInput(
            N_("Capacity cannot be below the %(n)s places already taken"), n=shift.taken
        )
    before = shift.capacity
    shift.capacity = capacity
    session.flush()
    while _promote_waitlisted(session, shift):
        pass
    session.refresh(shift, ["taken"])
    audit.record(
        session,
        actor,
        "volunteer.shift.capacity",
        "volunteer_shift",
        shift.id,
        before={"capacity": before},
        after={"capacity": capacity},
    )
    return shift


def set_recruiting(session: Session, actor: Principal, activity: Activity, open_: bool) -> None:
    if not can_manage(session, actor, activity.organisation):
        raise NotFound()
    if activity.status == ActivityStatus.cancelled:
        raise Conflict(N_("This activity was cancelled"))
    before = activity.status
    activity.status = ActivityStatus.open if open_ else ActivityStatus.closed
    audit.record(
        session,
        actor,
        "volunteer.activity.recruiting",
        "volunteer_activity",
        activity.id,
        before={"status": before},
        after={"status": activity.status},
    )


def _signed_up_people(session: Session, activity: Activity) -> list[int]:
    return list(
        session.scalars(
            select(Signup.person_id)
            .join(Shift, Shift.id == Signup.shift_id)
            .where(
                Shift.activity_id == activity.id,
                Signup.status.in_([SignupStatus.confirmed, SignupStatus.waitlisted]),
            )
            .distinct()
        )
    )


def cancel_activity(session: Session, actor: Principal, activity: Activity, reason: str) -> int:
    """Cancelled, with a message to everyone signed up. Returns how many were told."""
    if not can_manage(session, actor, activity.organisation):
        raise NotFound()
    if activity.status == ActivityStatus.cancelled:
        raise Conflict(N_("This activity was cancelled"))
    reason = clean_text(reason, "reason", max_length=500)
    told = _signed_up_people(session, activity)
    shift_ids = select(Shift.id).where(Shift.activity_id == activity.id).scalar_subquery()
    session.execute(
        update(Signup)
        .where(
            Signup.shift_id.in_(shift_ids),
            Signup.status.in_([SignupStatus.confirmed, SignupStatus.waitlisted]),
        )
        .values(status=SignupStatus.cancelled)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Shift)
        .where(Shift.activity_id == activity.id)
        .values(cancelled=True, taken=0)
        .execution_options(synchronize_session=False)
    )
    activity.status = ActivityStatus.cancelled
    for person_id in told:
        notifications.notify(
            session,
            person_id,
            kind="volunteer.activity",
            title=N_("An activity you signed up for was cancelled"),
            body=f"{activity.title}: {reason}",
            link=f"/volunteer/activities/{activity.id}",
            channels=("push", "sms"),
        )
    events.publish(
        session, "volunteer.activity_cancelled", {"activity_id": activity.id, "told": len(told)}
    )
    audit.record(
        session,
        actor,
        "volunteer.activity.cancel",
        "volunteer_activity",
        activity.id,
        after={"reason": reason, "told": len(told)},
    )
    session.expire_all()
    return len(told)


def shifts_of(session: Session, activity: Activity) -> list[Shift]:
    return list(
        session.scalars(
            select(Shift).where(Shift.activity_id == activity.id).order_by(Shift.starts_at)
        )
    )


@dataclass(frozen=True)
class ActivityFilter:
    """What a person narrows the activity list by: a category, an organisation, the days a shift
    starts on (Beijing dates, both ends included) and words in the title, place or
    description."""

    category: str | None = None
    organisation_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    search: str | None = None


@dataclass(frozen=True)
class ActivityListing:
    page: NumberedPage[tuple[Activity, datetime]]
    organisations: list[Organisation]  # those with activities to offer, for the filter


ACTIVITIES_PER_PAGE = 12


def _shift_to_come() -> list[ColumnElement[bool]]:
    """A shift still to start and not cancelled: what the lists and the home page offer."""
    return [Shift.starts_at > utcnow(), Shift.cancelled.is_(False)]


def _open_activities_query(filters: ActivityFilter) -> Select[tuple[Activity, datetime]]:
    """Open activities with a shift to come, each with its next shift's start (within the date
    range when there is one), soonest first."""
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise InvalidInput(
            N_("The end date comes before the start date"),
            errors=[
                {"field": "date_to", "message": N_("Please choose a day on or after the first.")}
            ],
        )
    shift_at = _shift_to_come()
    if filters.date_from:
        shift_at.append(Shift.starts_at >= local_midnight(filters.date_from))
    if filters.date_to:
        shift_at.append(Shift.starts_at < local_midnight(filters.date_to + timedelta(days=1)))
    next_shift = (
        select(Shift.activity_id, func.min(Shift.starts_at).label("starts_at"))
        .where(*shift_at)
        .group_by(Shift.activity_id)
        .subquery()
    )
    query = (
        select(Activity, next_shift.c.starts_at)
        .join(next_shift, next_shift.c.activity_id == Activity.id)
        .options(joinedload(Activity.organisation))
        .where(Activity.status == ActivityStatus.open)
    )
    if filters.category:
        query = query.where(Activity.category == filters.category)
    if filters.organisation_id:
        query = query.where(Activity.organisation_id == filters.organisation_id)
    words = (filters.search or "").strip()[:50]
    if words:
        query = query.where(
            or_(
                Activity.title.contains(words, autoescape=True),
                Activity.place.contains(words, autoescape=True),
                Activity.description.contains(words, autoescape=True),
            )
        )
    return query.order_by(next_shift.c.starts_at, Activity.id)


def open_activities(
    session: Session,
    filters: ActivityFilter | None = None,
    *,
    limit: int = 200,
    page: int = 1,
    past_end: bool = False,
) -> NumberedPage[tuple[Activity, datetime]]:
    """A page of open activities with a shift to come, with their next shift's start."""
    query = _open_activities_query(filters or ActivityFilter())
    return numbered_page(session, query, page, limit, past_end=past_end)


def activity_listing(session: Session, filters: ActivityFilter, page: int) -> ActivityListing:
    """The public list of activities: one page of them, and the organisations to filter by."""
    offering = (
        select(Activity.organisation_id)
        .join(Shift, Shift.activity_id == Activity.id)
        .where(Activity.status == ActivityStatus.open, *_shift_to_come())
    )
    return ActivityListing(
        page=open_activities(session, filters, limit=ACTIVITIES_PER_PAGE, page=page),
        organisations=list(
            session.scalars(
                select(Organisation)
                .where(Organisation.id.in_(offering))
                .order_by(Organisation.name, Organisation.id)
            )
        ),
    )


def next_shift_starts(session: Session, activity_ids: list[int]) -> dict[int, datetime]:
    """When each activity's next shift starts (those with one to come)."""
    if not activity_ids:
        return {}
    rows = session.execute(
        select(Shift.activity_id, func.min(Shift.starts_at))
        .where(Shift.activity_id.in_(activity_ids), *_shift_to_come())
        .group_by(Shift.activity_id)
    )
    return dict(rows.all())


# --- sign-up ----------------------------------------------------------------------------------


def get_signup(session: Session, signup_id: int) -> Signup:
    signup = session.scalar(
        select(Signup)
        .options(
            joinedload(Signup.shift).joinedload(Shift.activity).joinedload(Activity.organisation)
        )
        .where(Signup.id == signup_id)
    )
    if signup is None:
        raise NotFound()
    return signup


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _check_requirements(
    session: Session, volunteer: Volunteer, activity: Activity, shift: Shift
) -> None:
    if activity.min_age:
        if volunteer.birth_date is None:
            raise InvalidInput(
                N_("This activity has a minimum age; add your date of birth to your profile")
            )
        if _age_on(volunteer.birth_date, local_day(shift.starts_at)) < activity.min_age:
            raise InvalidInput(
                N_("This activity is for volunteers aged %(n)s and over"), n=activity.min_age
            )
    if activity.credential_kind and not credentials.valid_credentials(
        session, activity.credential_kind, at=shift.starts_at, person_id=volunteer.person_id
    ):
        raise InvalidInput(
            N_("This activity needs a valid %(credential)s"),
            credential=gettext(credentials.CREDENTIAL_KINDS[activity.credential_kind]),
        )


def _overlapping(session: Session, person_id: int, shift: Shift) -> Signup | None:
    return session.scalar(
        select(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.person_id == person_id,
            Signup.shift_id != shift.id,
            Signup.status.in_(
                [SignupStatus.confirmed, SignupStatus.waitlisted, SignupStatus.checked_in]
            ),
            Shift.starts_at < shift.ends_at,
            Shift.ends_at > shift.starts_at,
            Shift.cancelled.is_(False),
        )
        .limit(1)
    )


def _take_place(session: Session, shift_id: int) -> bool:
    """One place, if one is free: the conditional UPDATE is the whole capacity rule."""
    moved = session.execute(
        update(Shift)
        .where(Shift.id == shift_id, Shift.taken < Shift.capacity, Shift.cancelled.is_(False))
        .values(taken=Shift.taken + 1)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1  # type: ignore[attr-defined]


def _free_place(session: Session, shift_id: int) -> None:
    session.execute(
        update(Shift)
        .where(Shift.id == shift_id, Shift.taken > 0)
        .values(taken=Shift.taken - 1)
        .execution_options(synchronize_session=False)
    )


def _lock_volunteers(session: Session, person_ids: list[int]) -> None:
    """Serialise the work of these volunteers that reads then writes their own rows (one
    sign-up per shift, no two shifts at once, claims per benefit): a second request of the same
    person waits here until the first commits, then sees what it wrote. In ascending order, so
    two callers locking several never deadlock. SQLite needs no lock: its writers are already
    serialised (BEGIN IMMEDIATE)."""
    if person_ids:
        session.execute(
            select(Volunteer.id)
            .where(Volunteer.person_id.in_(sorted(set(person_ids))))
            .order_by(Volunteer.id)
            .with_for_update()
        )


def _lock_signups(session: Session, signups: list[Signup]) -> None:
    """Hold these sign-ups until commit and read their state again, for a decision taken once
    (cancel, confirm hours, correct them, mark absent): a second tap or a second organiser
    waits here for the first and then sees what it decided. In ascending order, so two
    callers locking overlapping lists never deadlock."""
    for signup in sorted(signups, key=lambda s: s.id):
        session.refresh(signup, ["status", "pending_minutes"], with_for_update=True)


def sign_up(session: Session, actor: Principal, shift_id: int) -> Signup:
    """A place on the shift, or a place on its waitlist when it is full."""
    volunteer = require_volunteer(session, actor)
    _lock_volunteers(session, [volunteer.person_id])
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    activity = get_activity(session, shift.activity_id)
    if activity.status != ActivityStatus.open or shift.cancelled:
        raise Conflict(N_("This activity is not taking sign-ups"))
    if shift.starts_at <= utcnow():
        raise Conflict(N_("This shift has already started"))
    _check_requirements(session, volunteer, activity, shift)
    # The live row first: a placement by a call may have added one beside a cancelled one.
    existing = session.scalar(
        select(Signup)
        .where(Signup.shift_id == shift.id, Signup.person_id == volunteer.person_id)
        .order_by((Signup.status == SignupStatus.cancelled).asc(), Signup.id.desc())
        .limit(1)
    )
    if existing is not None and existing.status != SignupStatus.cancelled:
        raise Conflict(N_("You have already signed up for this shift"))
    clash = _overlapping(session, volunteer.person_id, shift)
    if clash is not None:
        raise Conflict(N_("You are already signed up for a shift at the same time"))
    try:
        # The unique index on live sign-ups is the last word; its savepoint also gives back
        # the place taken here.
        with session.begin_nested():
            taken = _take_place(session, shift.id)
            status = SignupStatus.confirmed if taken else SignupStatus.waitlisted
            if existing is None:
                existing = Signup(shift_id=shift.id, person_id=volunteer.person_id, status=status)
                session.add(existing)
            else:  # signing up again after cancelling: the same row, back at the end of any queue
                existing.status = status
                existing.created_at = utcnow()
            session.flush()
    except IntegrityError:
        raise Conflict(N_("You have already signed up for this shift")) from None
    session.refresh(shift, ["taken"])
    return existing


def _promote_waitlisted(session: Session, shift: Shift) -> Signup | None:
    first = session.scalar(
        select(Signup)
        .where(Signup.shift_id == shift.id, Signup.status == SignupStatus.waitlisted)
        .order_by(Signup.created_at, Signup.id)
        .limit(1)
        .with_for_update()
    )
    if first is None or not _take_place(session, shift.id):
        return None
    first.status = SignupStatus.confirmed
    activity = get_activity(session, shift.activity_id)
    notifications.notify(
        session,
        first.person_id,
        kind="volunteer.signup",
        title=N_("A place came free: you are now confirmed"),
        body=activity.title,
        link=f"/volunteer/activities/{activity.id}",
        channels=("push", "sms"),
    )
    session.flush()
    return first


def waitlist_position(session: Session, signup: Signup) -> int | None:
    """1 for the next to get a place; None when not waiting."""
    if signup.status != SignupStatus.waitlisted:
        return None
    ahead = session.scalar(
        select(func.count(Signup.id)).where(
            Signup.shift_id == signup.shift_id,
            Signup.status == SignupStatus.waitlisted,
            or_(
                Signup.created_at < signup.created_at,
                (Signup.created_at == signup.created_at) & (Signup.id < signup.id),
            ),
        )
    )
    return (ahead or 0) + 1


def cancel_signup(session: Session, actor: Principal, signup: Signup) -> Signup:
    if signup.person_id != actor.person_id:
        raise NotFound()
    _lock_signups(session, [signup])
    if signup.status not in (SignupStatus.confirmed, SignupStatus.waitlisted):
        raise Conflict(N_("Only a place not yet used can be cancelled"))
    shift = session.get(Shift, signup.shift_id)
    assert shift is not None
    held_a_place = signup.status == SignupStatus.confirmed
    signup.status = SignupStatus.cancelled
    session.flush()
    if held_a_place:
        _free_place(session, shift.id)
        _promote_waitlisted(session, shift)
    session.refresh(shift, ["taken"])
    return signup


def my_signups(session: Session, person_id: int, *, upcoming: bool | None = None) -> list[Signup]:
    query = (
        select(Signup)
        .options(joinedload(Signup.shift).joinedload(Shift.activity))
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.person_id == person_id, Signup.status != SignupStatus.cancelled)
    )
    if upcoming is True:
        query = query.where(Shift.ends_at > utcnow())
    elif upcoming is False:
        query = query.where(Shift.ends_at <= utcnow())
    return list(session.scalars(query.order_by(Shift.starts_at)))


def home_summary(session: Session, principal: Principal) -> list[Signup] | None:
    """For a signed-in person's home page: their next three shifts (with the activity, for its
    place), or None when none is coming."""
    if principal.person_id is None:
        return None
    signups = list(
        session.scalars(
            select(Signup)
            .options(joinedload(Signup.shift).joinedload(Shift.activity))
            .join(Shift, Shift.id == Signup.shift_id)
            .where(
                Signup.person_id == principal.person_id,
                Signup.status.in_(
                    [SignupStatus.confirmed, SignupStatus.waitlisted, SignupStatus.checked_in]
                ),
                Shift.ends_at > utcnow(),
                Shift.cancelled.is_(False),
            )
            .order_by(Shift.starts_at, Signup.id)
            .limit(3)
        )
    )
    return signups or None


def roster(session: Session, shift: Shift) -> list[Signup]:
    return list(
        session.scalars(
            select(Signup)
            .options(joinedload(Signup.person))
            .where(Signup.shift_id == shift.id, Signup.status != SignupStatus.cancelled)
            .order_by(Signup.status, Signup.created_at)
        )
    )


# --- check-in and out -------------------------------------------------------------------------


def checkin_code(session: Session, actor: Principal, shift: Shift) -> str:
    """What the organiser's screen shows as a QR code: signed, good for 30 seconds."""
    activity = get_activity(session, shift.activity_id)
    if not can_manage(session, actor, activity.organisation):
        raise NotFound()
    return _serializer("volunteer-checkin").dumps({"s": shift.id, "n": secrets.token_hex(8)})


def _read_code(code: str) -> tuple[int, str]:
    try:
        data = _serializer("volunteer-checkin").loads(
            code, max_age=CHECKIN_SECONDS + CHECKIN_GRACE_SECONDS
        )
    except SignatureExpired:
        raise InvalidInput(N_("This QR code has expired; scan the one on the screen now")) from None
    except BadSignature:
        raise InvalidInput(N_("This is not a check-in code of ours")) from None
    return int(data["s"]), str(data["n"])


@dataclass
class CheckResult:
    """What a check did, with all a phone needs to show it (no further round trip)."""

    action: str  # "in" or "out"
    signup_id: int
    shift_id: int
    activity_id: int
    activity_title: str
    starts_at: datetime
    ends_at: datetime
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    late_minutes: int
    early_minutes: int
    pending_minutes: int


def check(
    session: Session,
    actor: Principal,
    *,
    code: str | None = None,
    shift_id: int | None = None,
    lat: float | None = None,
    lng: float | None = None,
    location_is_gcj02: bool = False,
) -> CheckResult:
    """Check in, or out if already in: by the organiser's rotating QR code, or by the phone's
    location inside the activity's geofence. A location given with a code must be inside too.

    This runs for every volunteer at the start and end of every shift, thousands at once in a
    mobilisation, so it reads only the columns it needs in one locked round trip, records the
    code in one statement and writes the place in one UPDATE."""
    if actor.person_id is None:
        raise PermissionDenied()
    nonce = None
    if code:
        shift_id, nonce = _read_code(code)
    if shift_id is None or (nonce is None and (lat is None or lng is None)):
        raise InvalidInput(N_("Scan the organiser's QR code, or share your location"))
    place = session.execute(
        select(
            Signup.id,
            Signup.status,
            Signup.checked_in_at,
            Shift.starts_at,
            Shift.ends_at,
            Activity.id,
            Activity.title,
            Activity.lat,
            Activity.lng,
            Activity.geofence_m,
        )
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Activity, Activity.id == Shift.activity_id)
        .where(
            Signup.shift_id == shift_id,
            Signup.person_id == actor.person_id,
            # At most one live row (uq_volunteer_signup_active); a cancelled one may sit beside
            # it after a call placed the volunteer again.
            Signup.status != SignupStatus.cancelled,
        )
        .with_for_update(of=Signup)
    ).first()
    if place is None and session.get(Shift, shift_id) is None:
        raise NotFound()
    if place is None or place[1] not in (SignupStatus.confirmed, SignupStatus.checked_in):
        raise Conflict(N_("You have no confirmed place on this shift"))
    (
        signup_id,
        status,
        checked_in_at,
        starts_at,
        ends_at,
        activity_id,
        title,
        a_lat,
        a_lng,
        geofence_m,
    ) = place
    if lat is not None and lng is not None:
        point = geo.point_in_china(lat, lng, location_is_gcj02)
        if point is None:
            raise InvalidInput(N_("The location is not valid"))
        distance = geo.haversine_m(point, geo.Point(a_lat, a_lng))
        if distance > geofence_m:
            raise InvalidInput(
                N_("You are %(m)s metres from the activity; check in within %(r)s metres"),
                m=int(distance),
                r=geofence_m,
            )
    now = utcnow()
    if nonce is not None and not _use_code(session, nonce, actor.person_id, now):
        raise Conflict(N_("This QR code was already used; scan the one on the screen now"))
    if status == SignupStatus.confirmed:
        if now < starts_at - EARLY_CHECKIN:
            raise Conflict(N_("Check-in opens 30 minutes before the shift"))
        if now >= ends_at:
            raise Conflict(N_("This shift is over"))
        values: dict[str, Any] = {
            "status": SignupStatus.checked_in.value,
            "checked_in_at": now,
            "late_minutes": max(0, int((now - starts_at).total_seconds() // 60)),
            "check_method": "qr" if nonce else "location",
        }
        action = "in"
    else:
        assert checked_in_at is not None
        values = _checkout_values(checked_in_at, starts_at, ends_at, min(now, ends_at))
        action = "out"
    session.execute(
        update(Signup)
        .where(Signup.id == signup_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    loaded = session.identity_map.get(session.identity_key(Signup, signup_id))
    if loaded is not None:
        session.expire(loaded)  # a caller holding the object sees the new state
    return CheckResult(
        action=action,
        signup_id=signup_id,
        shift_id=shift_id,
        activity_id=activity_id,
        activity_title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        status=values["status"],
        checked_in_at=values.get("checked_in_at", checked_in_at),
        checked_out_at=values.get("checked_out_at"),
        late_minutes=values.get("late_minutes", 0),
        early_minutes=values.get("early_minutes", 0),
        pending_minutes=values.get("pending_minutes", 0),
    )


def _checkout_values(
    checked_in_at: datetime,
    starts_at: datetime,
    ends_at: datetime,
    at: datetime,
    *,
    auto: bool = False,
) -> dict[str, Any]:
    start = max(checked_in_at, starts_at)
    return {
        "status": SignupStatus.checked_out.value,
        "checked_out_at": at,
        "auto_checked_out": auto,
        "early_minutes": max(0, int((ends_at - at).total_seconds() // 60)),
        "pending_minutes": max(0, int((min(at, ends_at) - start).total_seconds() // 60)),
    }


def _use_code(session: Session, nonce: str, person_id: int, now: datetime) -> bool:
    """Record the code as used by this person; False if it already was (one statement)."""
    statement = (
        upsert(session, UsedCheckinCode)
        .values(nonce=nonce, person_id=person_id, used_at=now)
        .on_conflict_do_nothing(index_elements=["nonce", "person_id"])
        .returning(UsedCheckinCode.id)
    )
    return session.execute(statement).first() is not None


def _check_out(signup: Signup, shift: Shift, at: datetime, *, auto: bool) -> None:
    assert signup.checked_in_at is not None
    values = _checkout_values(signup.checked_in_at, shift.starts_at, shift.ends_at, at, auto=auto)
    for name, value in values.items():
        setattr(signup, name, value)


def close_finished_shifts(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """After a shift: whoever forgot to check out is checked out at its end (and flagged);
    whoever never checked in is a no-show. Returns (checked out, no-shows)."""
    now = now or utcnow()
    # Locked (in id order, as `_lock_signups` does): a volunteer checking out or an organiser
    # marking an absence at the same moment is either seen here or sees this.
    forgotten = session.scalars(
        select(Signup)
        .options(joinedload(Signup.shift))
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.status == SignupStatus.checked_in, Shift.ends_at <= now)
        .order_by(Signup.id)
        .with_for_update(of=Signup)
    ).all()
    for signup in forgotten:
        _check_out(signup, signup.shift, signup.shift.ends_at, auto=True)
    absent = session.scalars(
        select(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.status == SignupStatus.confirmed,
            Shift.starts_at <= now - NO_SHOW_AFTER,
            Shift.cancelled.is_(False),
        )
        .order_by(Signup.id)
        .with_for_update(of=Signup)
    ).all()
    for signup in sorted(absent, key=_by_person):
        _record_no_show(session, signup)
    session.flush()
    return len(forgotten), len(absent)


def _bump_total(
    session: Session, person_id: int, *, minutes: int = 0, shifts: int = 0, no_shows: int = 0
) -> None:
    row = session.get(VolunteerTotal, person_id, with_for_update=True)
    if row is None:
        row = VolunteerTotal(person_id=person_id, minutes=0, completed_shifts=0, no_shows=0)
        session.add(row)
    row.minutes += minutes
    row.completed_shifts += shifts
    row.no_shows += no_shows
    if row.minutes < 0:
        raise Conflict(N_("A correction cannot take total hours below zero"))


def _by_person(signup: Signup) -> tuple[int, int]:
    """The order in which totals rows are locked, so that two callers never deadlock."""
    return signup.person_id, signup.id


def _record_no_show(session: Session, signup: Signup) -> None:
    signup.status = SignupStatus.no_show
    _bump_total(session, signup.person_id, no_shows=1)


def mark_no_show(session: Session, actor: Principal, signup: Signup) -> Signup:
    shift = signup.shift
    if not can_manage(session, actor, shift.activity.organisation):
        raise NotFound()
    _lock_signups(session, [signup])
    if signup.status != SignupStatus.confirmed or shift.starts_at > utcnow():
        raise Conflict(N_("Only a confirmed volunteer who has not come can be marked absent"))
    _record_no_show(session, signup)
    audit.record(session, actor, "volunteer.signup.no_show", "volunteer_signup", signup.id)
    return signup


def shift_minutes(shift: Shift) -> int:
    return int((shift.ends_at - shift.starts_at).total_seconds() // 60)


def _post_hours(
    session: Session,
    actor: Principal,
    signup: Signup,
    minutes: int,
    kind: str,
    reason: str = "",
    reverses: int | None = None,
) -> HoursEntry:
    shift = signup.shift
    entry = HoursEntry(
        person_id=signup.person_id,
        organisation_id=shift.activity.organisation_id,
        signup_id=signup.id,
        minutes=minutes,
        kind=kind,
        reason=reason[:300],
        reverses_entry_id=reverses,
        actor_person_id=actor.person_id,
        served_on=local_day(shift.starts_at),
    )
    session.add(entry)
    return entry


def approve_hours(
    session: Session,
    actor: Principal,
    signups: list[Signup],
    *,
    minutes: int | None = None,
    reason: str = "",
) -> int:
    """The organiser confirms pending hours, one by one or in bulk (all or nothing). With
    `minutes`, one signup's hours are set by hand (a reason is required)."""
    if not signups:
        raise InvalidInput(N_("Choose at least one volunteer"))
    if minutes is not None and len(signups) != 1:
        raise InvalidInput(N_("Hours are corrected one volunteer at a time"))
    changes = []
    for signup in signups:
        if not can_manage(session, actor, signup.shift.activity.organisation):
            raise NotFound()
    _lock_signups(session, signups)
    for signup in signups:
        if signup.status != SignupStatus.checked_out:
            raise Conflict(N_("Only hours waiting for confirmation can be confirmed"))
        if signup.person_id == actor.person_id:
            raise PermissionDenied(N_("You cannot confirm your own hours"))
    for signup in sorted(signups, key=_by_person):
        granted = signup.pending_minutes
        if minutes is not None:
            if not 0 <= minutes <= shift_minutes(signup.shift):
                raise InvalidInput(
                    N_("Hours cannot be more than the shift's %(h)s hours"),
                    h=round(shift_minutes(signup.shift) / 60, 1),
                )
            granted = minutes
            reason = clean_text(reason, "reason", max_length=300)
        entry = _post_hours(session, actor, signup, granted, "verified", reason)
        signup.status = SignupStatus.verified
        signup.pending_minutes = 0
        _bump_total(session, signup.person_id, minutes=granted, shifts=1)
        session.flush()
        changes.append(
            audit.Change(
                "volunteer.hours.verify",
                "volunteer_signup",
                signup.id,
                after={"entry": entry.id, "minutes": granted, "reason": reason},
            )
        )
        events.publish(
            session,
            "volunteer.hours_verified",
            {
                "person_id": signup.person_id,
                "organisation_id": signup.shift.activity.organisation_id,
                "signup_id": signup.id,
                "minutes": granted,
                "served_on": local_day(signup.shift.starts_at).isoformat(),
                "verified_by": actor.person_id,
            },
        )
    audit.record_many(session, actor, changes)
    return len(signups)


def correct_hours(
    session: Session, actor: Principal, signup: Signup, minutes: int, reason: str
) -> HoursEntry:
    """Verified hours found wrong: a reversing entry, then the right amount, with a reason."""
    if not can_manage(session, actor, signup.shift.activity.organisation):
        raise NotFound()
    _lock_signups(session, [signup])
    if signup.status != SignupStatus.verified:
        raise Conflict(N_("Only confirmed hours can be corrected"))
    if not 0 <= minutes <= shift_minutes(signup.shift):
        raise InvalidInput(
            N_("Hours cannot be more than the shift's %(h)s hours"),
            h=round(shift_minutes(signup.shift) / 60, 1),
        )
    reason = clean_text(reason, "reason", max_length=300)
    entries = session.scalars(
        select(HoursEntry).where(HoursEntry.signup_id == signup.id).order_by(HoursEntry.id)
    ).all()
    net = sum(e.minutes for e in entries)
    if minutes == net:  # most often the same correction sent twice
        raise Conflict(
            N_("These hours are already %(h)s hours; nothing was corrected"), h=round(net / 60, 1)
        )
    reversal = _post_hours(
        session, actor, signup, -net, "reversal", reason, reverses=entries[-1].id
    )
    session.flush()
    correction = _post_hours(session, actor, signup, minutes, "correction", reason)
    _bump_total(session, signup.person_id, minutes=minutes - net)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.hours.correct",
        "volunteer_signup",
        signup.id,
        before={"minutes": net},
        after={"minutes": minutes, "reason": reason, "reversal": reversal.id},
    )
    return correction


def hours_ledger(session: Session, person_id: int, limit: int = 200) -> list[HoursEntry]:
    return list(
        session.scalars(
            select(HoursEntry)
            .where(HoursEntry.person_id == person_id)
            .order_by(HoursEntry.id.desc())
            .limit(limit)
        )
    )


def leave_feedback(
    session: Session, actor: Principal, signup: Signup, rating: int, comment: str
) -> Feedback:
    if signup.person_id != actor.person_id:
        raise NotFound()
    if signup.status not in (SignupStatus.checked_out, SignupStatus.verified):
        raise Conflict(N_("Feedback is for activities you took part in"))
    if not 1 <= rating <= 5:
        raise InvalidInput(N_("Rate from 1 to 5"))
    if session.scalar(select(Feedback.id).where(Feedback.signup_id == signup.id)):
        raise Conflict(N_("You have already given feedback for this shift"))
    feedback = Feedback(
        signup_id=signup.id,
        activity_id=signup.shift.activity_id,
        rating=rating,
        comment=clean_text(comment, "comment", max_length=1000, required=False),
    )
    try:
        with session.begin_nested():  # the unique signup_id decides between two sent at once
            session.add(feedback)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("You have already given feedback for this shift")) from None
    return feedback


def feedback_summary(session: Session, activity: Activity) -> tuple[float | None, list[str]]:
    rows = session.execute(
        select(Feedback.rating, Feedback.comment).where(Feedback.activity_id == activity.id)
    ).all()
    if not rows:
        return None, []
    return round(sum(r for r, _ in rows) / len(rows), 1), [c for _, c in rows if c][-20:]


# --- certificates -----------------------------------------------------------------------------


def issue_certificate(
    session: Session,
    actor: Principal,
    *,
    period_from: date,
    period_to: date,
    organisation_id: int | None = None,
) -> Certificate:
    """A certificate of the acting volunteer's verified hours in a period (optionally with one
    organisation): the figures are frozen on it."""
    if actor.person_id is None:
        raise PermissionDenied()
    if period_to < period_from:
        raise InvalidInput(N_("The period ends before it starts"))
    query = select(func.coalesce(func.sum(HoursEntry.minutes), 0)).where(
        HoursEntry.person_id == actor.person_id,
        HoursEntry.served_on >= period_from,
        HoursEntry.served_on <= period_to,
    )
    organisation_name = gettext("all organisations")
    if organisation_id is not None:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound()
        organisation_name = organisation.name
        query = query.where(HoursEntry.organisation_id == organisation_id)
    minutes = int(session.scalar(query) or 0)
    if minutes <= 0:
        raise InvalidInput(N_("There are no verified hours in this period"))
    person = people.get_person(session, actor.person_id)
    certificate = Certificate(
        code=secrets.token_urlsafe(12),
        person_id=person.id,
        organisation_id=organisation_id,
        minutes=minutes,
        period_from=period_from,
        period_to=period_to,
        holder_name=person.name,
        organisation_name=organisation_name,
    )
    session.add(certificate)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.certificate.issue",
        "volunteer_certificate",
        certificate.id,
        after={"minutes": minutes, "from": period_from, "to": period_to, "org": organisation_id},
    )
    return certificate


def get_certificate_for(session: Session, actor: Principal, certificate_id: int) -> Certificate:
    certificate = session.get(Certificate, certificate_id)
    if certificate is None or certificate.person_id != actor.person_id:
        raise NotFound()
    return certificate


def certificate_by_code(session: Session, code: str) -> Certificate:
    certificate = session.scalar(select(Certificate).where(Certificate.code == code[:32]))
    if certificate is None:
        raise NotFound(N_("No certificate has this code"))
    return certificate


def certificates_of(session: Session, person_id: int) -> list[Certificate]:
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.person_id == person_id)
            .order_by(Certificate.id.desc())
        )
    )


# --- benefits ---------------------------------------------------------------------------------


@dataclass
class BenefitInput:
    title: str
    description: str
    min_star: int = 0
    min_hours: int = 0
    per_person_limit: int = 1
    quota: int | None = None
    valid_until: date | None = None


def create_benefit(
    session: Session, actor: Principal, partner: Organisation, data: BenefitInput
) -> Benefit:
    if not has_permission(session, actor, VolunteerPerm.BENEFIT, partner):
        raise NotFound()
    errors = []
    if not 0 <= data.min_star <= 10:
        errors.append({"field": "min_star", "message": "0..10"})
    if not 0 <= data.min_hours <= 100_000:
        errors.append({"field": "min_hours", "message": "0..100000"})
    if not 1 <= data.per_person_limit <= 1000:
        errors.append({"field": "per_person_limit", "message": "1..1000"})
    if data.quota is not None and not 1 <= data.quota <= 1_000_000:
        errors.append({"field": "quota", "message": "1..1000000"})
    if errors:
        raise InvalidInput(N_("The benefit is not valid; nothing was saved"), errors=errors)
    benefit = Benefit(
        partner_organisation_id=partner.id,
        title=clean_text(data.title, "title", max_length=200),
        description=clean_text(data.description, "description", max_length=2000, required=False),
        min_star=data.min_star,
        min_hours=data.min_hours,
        per_person_limit=data.per_person_limit,
        quota=data.quota,
        claimed=0,
        valid_until=data.valid_until,
        active=True,
    )
    session.add(benefit)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.benefit.create",
        "volunteer_benefit",
        benefit.id,
        after={"title": benefit.title, "min_star": data.min_star, "min_hours": data.min_hours},
    )
    return benefit


def benefits(session: Session) -> list[Benefit]:
    today = local_day(utcnow())
    return list(
        session.scalars(
            select(Benefit)
            .options(joinedload(Benefit.partner))
            .where(
                Benefit.active.is_(True),
                or_(Benefit.valid_until.is_(None), Benefit.valid_until >= today),
            )
            .order_by(Benefit.min_star, Benefit.id)
        )
    )


def eligible(session: Session, person_id: int, benefit: Benefit) -> bool:
    minutes = total_minutes(session, person_id)
    return minutes >= benefit.min_hours * 60 and star_level(session, minutes) >= benefit.min_star


def claim_benefit(session: Session, actor: Principal, benefit_id: int) -> BenefitClaim:
    volunteer = require_volunteer(session, actor)
    benefit = session.get(Benefit, benefit_id)
    if benefit is None or not benefit.active:
        raise NotFound()
    if benefit.valid_until is not None and benefit.valid_until < local_day(utcnow()):
        raise Conflict(N_("This benefit has ended"))
    if not eligible(session, volunteer.person_id, benefit):
        raise Conflict(
            N_("This benefit is for volunteers with %(stars)s stars and %(hours)s hours or more"),
            stars=benefit.min_star,
            hours=benefit.min_hours,
        )
    # Serialise one person's claims, then count them. (The totals row locked here before does
    # not exist until a first hour is verified, so a benefit open to new volunteers had no lock.)
    _lock_volunteers(session, [volunteer.person_id])
    used = session.scalar(
        select(func.count(BenefitClaim.id)).where(
            BenefitClaim.benefit_id == benefit.id, BenefitClaim.person_id == volunteer.person_id
        )
    )
    if (used or 0) >= benefit.per_person_limit:
        raise Conflict(N_("You have already claimed this benefit as often as allowed"))
    moved = session.execute(
        update(Benefit)
        .where(
            Benefit.id == benefit.id,
            or_(Benefit.quota.is_(None), Benefit.claimed < Benefit.quota),
        )
        .values(claimed=Benefit.claimed + 1)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("All of this benefit has been claimed"))
    claim = BenefitClaim(
        benefit_id=benefit.id, person_id=volunteer.person_id, code=_unused_claim_code(session)
    )
    session.add(claim)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.benefit.claim",
        "volunteer_benefit_claim",
        claim.id,
        after={"benefit": benefit.id},
    )
    return claim


def _unused_claim_code(session: Session) -> str:
    """Eight characters a till can type. Drawn again when an earlier claim has it: among a
    hundred thousand claims a repeat is likely, and the unique code would refuse the claim."""
    while True:
        code = secrets.token_hex(4).upper()
        if session.scalar(select(BenefitClaim.id).where(BenefitClaim.code == code)) is None:
            return code


def use_claim(session: Session, actor: Principal, partner: Organisation, code: str) -> BenefitClaim:
    """The partner checks the code the volunteer shows, once."""
    if not has_permission(session, actor, VolunteerPerm.BENEFIT, partner):
        raise NotFound()
    claim = session.scalar(
        select(BenefitClaim)
        .options(joinedload(BenefitClaim.benefit))
        .where(BenefitClaim.code == code.strip().upper()[:16])
    )
    if claim is None or claim.benefit.partner_organisation_id != partner.id:
        raise NotFound(N_("No claim of this partner has this code"))
    # Two tills scanning the code at once: the first UPDATE takes it, the second matches no row.
    used = session.execute(
        update(BenefitClaim)
        .where(BenefitClaim.id == claim.id, BenefitClaim.used_at.is_(None))
        .values(used_at=utcnow(), used_by_person_id=actor.person_id)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("This code was already used"))
    session.refresh(claim, ["used_at", "used_by_person_id"])
    audit.record(
        session, actor, "volunteer.benefit.use", "volunteer_benefit_claim", claim.id, after={}
    )
    return claim


def benefits_title(session: Session, benefit_id: int) -> str:
    return session.scalar(select(Benefit.title).where(Benefit.id == benefit_id)) or ""


def claims_of(session: Session, person_id: int) -> list[BenefitClaim]:
    return list(
        session.scalars(
            select(BenefitClaim)
            .options(joinedload(BenefitClaim.benefit).joinedload(Benefit.partner))
            .where(BenefitClaim.person_id == person_id)
            .order_by(BenefitClaim.id.desc())
        )
    )


# --- mass mobilisation ------------------------------------------------------------------------


@dataclass
class Site:
    name: str
    lat: float
    lng: float


def create_call(
    session: Session,
    actor: Principal,
    organisation: Organisation,
    *,
    title: str,
    category: str,
    description: str,
    sites: list[Site],
    first_day: date,
    days: int,
    slots: list[tuple[int, int]],
    capacity: int,
) -> Call:
    """One activity per site, one shift per day and slot (200 sites × 14 days × 3 slots is
    8,400 shifts, written in one statement)."""
    if not can_manage(session, actor, organisation):
        raise NotFound()
    errors: list[dict[str, Any]] = []
    if not sites or len(sites) > 1000:
        errors.append({"field": "sites", "message": "1..1000"})
    if not 1 <= days <= 60:
        errors.append({"field": "days", "message": "1..60"})
    if not slots or any(not 0 <= a < b <= 24 for a, b in slots):
        errors.append({"field": "slots", "message": gettext("start and end hours, 0 to 24")})
    if not 1 <= capacity <= 10_000:
        errors.append({"field": "capacity", "message": "1..10000"})
    if first_day <= local_day(utcnow()):
        errors.append({"field": "first_day", "message": gettext("from tomorrow on")})
    if category not in CATEGORIES:
        errors.append({"field": "category", "message": gettext("unknown category")})
    points = [(s, geo.point_in_china(s.lat, s.lng)) for s in sites]
    errors += [
        {"line": i, "message": gettext("not a place in China")}
        for i, (_, p) in enumerate(points, start=1)
        if p is None
    ]
    if errors:
        raise InvalidInput(N_("The call is not valid; nothing was saved"), errors=errors)
    call = Call(
        organisation_id=organisation.id,
        title=clean_text(title, "title", max_length=200),
        category=category,
        description=clean_text(description, "description", max_length=5000, required=False),
    )
    session.add(call)
    session.flush()
    activities = []
    for site, _point in points:
        activities.append(
            Activity(
                organisation_id=organisation.id,
                call_id=call.id,
                title=f"{call.title} · {clean_text(site.name, 'site', max_length=100)}",
                category=category,
                description=call.description,
                place=site.name,
                lat=site.lat,
                lng=site.lng,
                geofence_m=300,
                status=ActivityStatus.open,
                created_by_person_id=actor.person_id,
            )
        )
    session.add_all(activities)
    session.flush()
    rows = []
    for activity in activities:
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            for start, end in slots:
                starts = local_midnight(day) + timedelta(hours=start)
                rows.append(
                    {
                        "activity_id": activity.id,
                        "starts_at": starts,
                        "ends_at": local_midnight(day) + timedelta(hours=end),
                        "capacity": capacity,
                        "taken": 0,
                        "cancelled": False,
                    }
                )
    session.execute(insert(Shift), rows)
    audit.record(
        session,
        actor,
        "volunteer.call.create",
        "volunteer_call",
        call.id,
        after={"sites": len(sites), "shifts": len(rows)},
    )
    return call


def get_call(session: Session, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound()
    return call


def answer_call(
    session: Session,
    actor: Principal,
    call: Call,
    *,
    max_km: float,
    preferred_hours: list[int],
    max_shifts: int,
) -> CallVolunteer:
    volunteer = require_volunteer(session, actor)
    if home_point(session, volunteer) is None:
        raise InvalidInput(
            N_("To be placed by distance, share your home location in your volunteer profile")
        )
    if not 0.5 <= max_km <= 200 or not 1 <= max_shifts <= 60:
        raise InvalidInput(N_("Distance 0.5 to 200 km, 1 to 60 shifts"))
    # One answer per call and volunteer (a unique pair): a second request waits for the first
    # and then updates the row it wrote.
    _lock_volunteers(session, [volunteer.person_id])
    row = session.scalar(
        select(CallVolunteer).where(
            CallVolunteer.call_id == call.id, CallVolunteer.person_id == volunteer.person_id
        )
    )
    if row is None:
        row = CallVolunteer(call_id=call.id, person_id=volunteer.person_id)
        session.add(row)
    row.max_km = max_km
    row.preferred_hours = sorted({h for h in preferred_hours if 0 <= h < 24})
    row.max_shifts = max_shifts
    session.flush()
    return row


def fill_call(session: Session, actor: Principal, call: Call) -> int:
    """Place the volunteers who answered: nearest site first, only at the start hours they gave
    (any, if none), up to each one's number of shifts, never two at once, never over capacity.
    Returns places filled."""
    organisation = session.get(Organisation, call.organisation_id)
    assert organisation is not None
    if not can_manage(session, actor, organisation):
        raise NotFound()
    now = utcnow()
    shifts = session.execute(
        select(Shift, Activity.lat, Activity.lng)
        .join(Activity, Activity.id == Shift.activity_id)
        .where(Activity.call_id == call.id, Shift.cancelled.is_(False), Shift.starts_at > now)
        .order_by(Shift.starts_at)
    ).all()
    free = {s.id: s.capacity - s.taken for s, _, _ in shifts}
    answers = session.execute(
        select(CallVolunteer, Volunteer)
        .join(Volunteer, Volunteer.person_id == CallVolunteer.person_id)
        .where(CallVolunteer.call_id == call.id)
        .order_by(CallVolunteer.created_at, CallVolunteer.id)
    ).all()
    # The volunteers' own sign-ups cannot change under us (they sign up under the same lock).
    _lock_volunteers(session, [a.person_id for a, _ in answers])
    taken_by: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    existing = session.execute(
        select(Signup.person_id, Shift.starts_at, Shift.ends_at, Signup.shift_id, Signup.status)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.person_id.in_([a.person_id for a, _ in answers]),
            Signup.status != SignupStatus.cancelled,
            Shift.ends_at > now,
        )
    ).all()
    already: set[tuple[int, int]] = set()  # any live sign-up: never a second one
    shifts_held: dict[int, int] = defaultdict(int)  # towards each one's number of shifts
    for person_id, starts, ends, shift_id, status in existing:
        # The same shifts as `_overlapping` counts for a sign-up, a waitlist place included.
        if status in (SignupStatus.confirmed, SignupStatus.waitlisted, SignupStatus.checked_in):
            taken_by[person_id].append((starts, ends))
        if status in (SignupStatus.confirmed, SignupStatus.checked_in):
            shifts_held[person_id] += 1
        already.add((person_id, shift_id))
    placed = 0
    new_rows: list[dict[str, Any]] = []
    for answer, volunteer in answers:
        home = home_point(session, volunteer)
        if home is None:
            continue  # location withdrawn since answering: not placed by distance
        candidates = []
        for shift, lat, lng in shifts:
            km = geo.haversine_m(home, geo.Point(lat, lng)) / 1000
            if km > answer.max_km or free[shift.id] <= 0:
                continue
            hour = shift.starts_at.astimezone(SHANGHAI).hour
            if answer.preferred_hours and hour not in answer.preferred_hours:
                continue  # they said when they can come
            candidates.append((round(km, 1), shift.starts_at, shift))
        candidates.sort(key=lambda c: (c[0], c[1]))
        mine = shifts_held[answer.person_id]
        for _, _, shift in candidates:
            if mine >= answer.max_shifts:
                break
            if (answer.person_id, shift.id) in already or free[shift.id] <= 0:
                continue
            if any(
                s < shift.ends_at and e > shift.starts_at for s, e in taken_by[answer.person_id]
            ):
                continue
            free[shift.id] -= 1
            taken_by[answer.person_id].append((shift.starts_at, shift.ends_at))
            already.add((answer.person_id, shift.id))
            new_rows.append(
                {
                    "shift_id": shift.id,
                    "person_id": answer.person_id,
                    "status": "confirmed",
                    "created_at": now,
                }
            )
            mine += 1
            placed += 1
    if new_rows:
        session.execute(insert(Signup), new_rows)
        counts: dict[int, int] = defaultdict(int)
        for row in new_rows:
            counts[row["shift_id"]] += 1
        for shift_id, count in counts.items():
            moved = session.execute(
                update(Shift)
                .where(Shift.id == shift_id, Shift.taken + count <= Shift.capacity)
                .values(taken=Shift.taken + count)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(N_("Shifts filled up while placing volunteers; run it again"))
    audit.record(
        session, actor, "volunteer.call.fill", "volunteer_call", call.id, after={"placed": placed}
    )
    return placed


def call_shift_count(session: Session, call: Call) -> int:
    return (
        session.scalar(
            select(func.count(Shift.id))
            .join(Activity, Activity.id == Shift.activity_id)
            .where(Activity.call_id == call.id, Shift.cancelled.is_(False))
        )
        or 0
    )


@dataclass
class FillRow:
    activity_id: int
    site: str
    day: date
    capacity: int
    taken: int

    @property
    def percent(self) -> int:
        return round(100 * self.taken / self.capacity) if self.capacity else 0


def fill_board(session: Session, call: Call) -> list[FillRow]:
    rows = session.execute(
        select(Activity.id, Activity.place, Shift.starts_at, Shift.capacity, Shift.taken)
        .join(Shift, Shift.activity_id == Activity.id)
        .where(Activity.call_id == call.id, Shift.cancelled.is_(False))
    ).all()
    cells: dict[tuple[int, date], FillRow] = {}
    for activity_id, place, starts, capacity, taken in rows:
        day = local_day(starts)
        cell = cells.setdefault((activity_id, day), FillRow(activity_id, place, day, 0, 0))
        cell.capacity += capacity
        cell.taken += taken
    return sorted(cells.values(), key=lambda r: (r.site, r.day))


# --- links to the rest ------------------------------------------------------------------------


def first_aiders(session: Session, actor: Principal, organisation: Organisation) -> list[Person]:
    """Volunteers of the organisation's activities holding a valid first-aid credential."""
    if not can_manage(session, actor, organisation):
        raise NotFound()
    volunteer_ids = set(
        session.scalars(
            select(Signup.person_id)
            .join(Shift, Shift.id == Signup.shift_id)
            .join(Activity, Activity.id == Shift.activity_id)
            .where(
                Activity.organisation_id == organisation.id,
                Signup.status == SignupStatus.verified,
            )
        )
    )
    holders = {c.person_id for c in credentials.valid_credentials(session, "first_aid")}
    ids = sorted(volunteer_ids & holders)
    return list(session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.name)))


def invite_responders(
    session: Session, actor: Principal, organisation: Organisation, person_ids: list[int]
) -> int:
    """Ask first-aid holders to join the emergency responder network; the emergency module
    picks the invitation up from the event (the volunteer decides there, with consent)."""
    allowed = {p.id for p in first_aiders(session, actor, organisation)}
    chosen = [p for p in dict.fromkeys(person_ids) if p in allowed]
    if not chosen:
        raise InvalidInput(N_("Choose volunteers who hold a valid first-aid certificate"))
    for person_id in chosen:
        notifications.notify(
            session,
            person_id,
            kind="volunteer.responder_invite",
            title=N_("You are invited to join the first-aid responder network"),
            body=organisation.name,
            link="/volunteer",
        )
        events.publish(
            session,
            "volunteer.responder_invited",
            {"person_id": person_id, "organisation_id": organisation.id},
        )
    audit.record(
        session,
        actor,
        "volunteer.responder.invite",
        "organisation",
        organisation.id,
        after={"people": chosen},
    )
    return len(chosen)


# --- small queries for the pages --------------------------------------------------------------


def feedback_given(session: Session, signup_ids: list[int]) -> set[int]:
    return set(
        session.scalars(select(Feedback.signup_id).where(Feedback.signup_id.in_(signup_ids)))
    )


def served_organisations(session: Session, person_id: int) -> list[Organisation]:
    ids = select(HoursEntry.organisation_id).where(HoursEntry.person_id == person_id).distinct()
    return list(
        session.scalars(
            select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)
        )
    )


def benefits_of(session: Session, partner: Organisation) -> list[Benefit]:
    return list(
        session.scalars(
            select(Benefit)
            .options(joinedload(Benefit.partner))
            .where(Benefit.partner_organisation_id == partner.id)
            .order_by(Benefit.id.desc())
        )
    )


def activities_of(
    session: Session, organisation_ids: list[int], limit: int = 100
) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .options(joinedload(Activity.organisation))
            .where(Activity.organisation_id.in_(organisation_ids), Activity.call_id.is_(None))
            .order_by(Activity.id.desc())
            .limit(limit)
        )
    )


def calls_of(session: Session, organisation: Organisation) -> list[Call]:
    return list(
        session.scalars(
            select(Call).where(Call.organisation_id == organisation.id).order_by(Call.id.desc())
        )
    )


def call_answer_count(session: Session, call: Call) -> int:
    return (
        session.scalar(select(func.count(CallVolunteer.id)).where(CallVolunteer.call_id == call.id))
        or 0
    )


def my_call_answer(session: Session, call: Call, person_id: int | None) -> CallVolunteer | None:
    if person_id is None:
        return None
    return session.scalar(
        select(CallVolunteer).where(
            CallVolunteer.call_id == call.id, CallVolunteer.person_id == person_id
        )
    )


def parse_sites(text: str) -> list[Site]:
    """One site a line: name, latitude, longitude (commas, Chinese commas or tabs)."""
    sites = []
    errors = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("，", ",").replace("\t", ",").split(",")]
        try:
            name, lat, lng = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            errors.append({"line": line_no, "message": gettext("name, latitude, longitude")})
            continue
        sites.append(Site(name, lat, lng))
    if errors:
        raise InvalidInput(N_("Some sites are not valid; nothing was saved"), errors=errors)
    return sites


def parse_slots(text: str) -> list[tuple[int, int]]:
    """Slots like "8-12, 13-17, 18-21"."""
    slots = []
    for part in text.replace("，", ",").split(","):
        if not part.strip():
            continue
        start, _, end = part.partition("-")
        if not (start.strip().isdigit() and end.strip().isdigit()):
            raise InvalidInput(N_("Slots look like 8-12, 13-17"))
        slots.append((int(start), int(end)))
    return slots
