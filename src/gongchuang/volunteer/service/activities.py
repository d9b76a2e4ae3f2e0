"""Activities and their shifts as an organiser keeps them: publishing, editing, adding
shifts, capacity, recruiting on or off, and cancelling with word to everyone signed up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.core import audit, credentials, events, geo, notifications, organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.topics.volunteer import ActivityCancelled
from gongchuang.volunteer.models import Activity, ActivityStatus, Shift, Signup, SignupStatus
from gongchuang.volunteer.schemas import ActivityCreate, ActivityIn, ShiftIn
from gongchuang.volunteer.service._common import can_manage, get_activity, not_an_option
from gongchuang.volunteer.service.signups import promote_waitlisted
from gongchuang.volunteer.service.vocabulary import CATEGORIES, SKILLS

MAX_SHIFT = timedelta(hours=24)


def get_activity_to_manage(session: Session, principal: Principal, activity_id: int) -> Activity:
    activity = get_activity(session, activity_id)
    if not can_manage(session, principal, activity.organisation):
        raise NotFound()
    return activity


def get_shift_to_manage(session: Session, principal: Principal, shift_id: int) -> Shift:
    """A shift of an activity the principal manages; the same NotFound for missing and
    forbidden."""
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    get_activity_to_manage(session, principal, shift.activity_id)
    return shift


def _validate_activity(data: ActivityIn) -> dict[str, Any]:
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
        errors.append({"field": "skills_wanted", "message": not_an_option(unknown)})
    if errors or point is None:
        raise InvalidInput(N_("The activity is not valid; nothing was saved"), errors=errors)
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


def _validate_shifts(shifts: list[ShiftIn], *, now: datetime) -> None:
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
    data: ActivityIn,
    shifts: list[ShiftIn],
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


def publish_activity(session: Session, actor: Principal, command: ActivityCreate) -> Activity:
    """An activity with its shifts, for the organisation the command names (the API and the
    organiser's page send the same command)."""
    organisation = organisations.get_organisation(session, command.organisation_id)
    return create_activity(session, actor, organisation, command, command.shifts)


def update_activity(
    session: Session, actor: Principal, activity: Activity, data: ActivityIn
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


def add_shift(session: Session, actor: Principal, activity: Activity, shift: ShiftIn) -> Shift:
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
    while promote_waitlisted(session, shift):
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
        session,
        ActivityCancelled(
            activity_id=activity.id, told=len(told), organisation_id=activity.organisation_id
        ),
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
