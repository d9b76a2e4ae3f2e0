"""Mass mobilisation: a call makes many sites, days and shifts at once; volunteers answer
with how far and when they can come; filling places them nearest first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gongchuang.core import audit, geo, organisations
from gongchuang.core.clock import SHANGHAI, local_midnight, utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_, Phrase, gettext
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.volunteer.models import (
    Activity,
    ActivityStatus,
    Call,
    CallVolunteer,
    Shift,
    Signup,
    SignupStatus,
    Volunteer,
)
from gongchuang.volunteer.schemas import CallIn, SiteIn
from gongchuang.volunteer.service._common import can_manage, local_day, lock_volunteers
from gongchuang.volunteer.service.profiles import home_point, require_volunteer
from gongchuang.volunteer.service.vocabulary import CATEGORIES


def create_call(
    session: Session,
    actor: Principal,
    organisation: Organisation,
    *,
    title: str,
    category: str,
    description: str,
    sites: list[SiteIn],
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
        errors.append(
            {"field": "sites", "message": Phrase(N_("from %(low)s to %(high)s"), low=1, high=1000)}
        )
    if not 1 <= days <= 60:
        errors.append(
            {"field": "days", "message": Phrase(N_("from %(low)s to %(high)s"), low=1, high=60)}
        )
    if not slots or any(not 0 <= a < b <= 24 for a, b in slots):
        errors.append({"field": "slots", "message": gettext("start and end hours, 0 to 24")})
    if not 1 <= capacity <= 10_000:
        errors.append(
            {
                "field": "capacity",
                "message": Phrase(N_("from %(low)s to %(high)s"), low=1, high=10_000),
            }
        )
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


def launch_call(session: Session, actor: Principal, command: CallIn) -> Call:
    """A call for the organisation the command names (the API and the organiser's page send
    the same command)."""
    organisation = organisations.get_organisation(session, command.organisation_id)
    return create_call(
        session,
        actor,
        organisation,
        title=command.title,
        category=command.category,
        description=command.description,
        sites=command.sites,
        first_day=command.first_day,
        days=command.days,
        slots=[(start, end) for start, end in command.slots],
        capacity=command.capacity,
    )


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
    lock_volunteers(session, [volunteer.person_id])
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
    if organisation is None:
        raise NotFound()
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
    lock_volunteers(session, [a.person_id for a, _ in answers])
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
