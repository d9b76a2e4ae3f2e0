"""Verified check-in and out: the organiser's rotating QR code or the phone's location in
the geofence, forgotten check-outs and no-shows closed after a shift.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from gongchuang.config import get_settings
from gongchuang.core import audit, geo
from gongchuang.core.clock import utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.volunteer.models import Activity, Shift, Signup, SignupStatus, UsedCheckinCode
from gongchuang.volunteer.service._common import by_person, can_manage, get_activity, lock_signups
from gongchuang.volunteer.service.stars import bump_total

CHECKIN_SECONDS = 30  # a QR code on the organiser's screen is good for this long
CHECKIN_GRACE_SECONDS = 10  # for a slow phone between scanning and sending
EARLY_CHECKIN = timedelta(minutes=30)
NO_SHOW_AFTER = timedelta(minutes=30)  # past the start with no check-in


@functools.cache
def _serializer(salt: str) -> URLSafeTimedSerializer:
    # Built once: deriving the signing key costs more than checking a code.
    return URLSafeTimedSerializer(get_settings().secret_key, salt=salt)


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
        if checked_in_at is None:
            raise RuntimeError(f"sign-up {signup_id} is checked in without a check-in time")
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


def check_out(signup: Signup, shift: Shift, at: datetime, *, auto: bool) -> None:
    """A checked-in volunteer checked out at `at` (`auto`: by the job after the shift), with
    the minutes that wait for the organiser's confirmation."""
    if signup.checked_in_at is None:
        raise RuntimeError(f"sign-up {signup.id} is checked in without a check-in time")
    values = _checkout_values(signup.checked_in_at, shift.starts_at, shift.ends_at, at, auto=auto)
    for name, value in values.items():
        setattr(signup, name, value)


def close_finished_shifts(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """After a shift: whoever forgot to check out is checked out at its end (and flagged);
    whoever never checked in is a no-show. Returns (checked out, no-shows)."""
    now = now or utcnow()
    # Locked (in id order, as `lock_signups` does): a volunteer checking out or an organiser
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
        check_out(signup, signup.shift, signup.shift.ends_at, auto=True)
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
    for signup in sorted(absent, key=by_person):
        _record_no_show(session, signup)
    session.flush()
    return len(forgotten), len(absent)


def _record_no_show(session: Session, signup: Signup) -> None:
    signup.status = SignupStatus.no_show
    bump_total(session, signup.person_id, no_shows=1)


def mark_no_show(session: Session, actor: Principal, signup: Signup) -> Signup:
    shift = signup.shift
    if not can_manage(session, actor, shift.activity.organisation):
        raise NotFound()
    lock_signups(session, [signup])
    if signup.status != SignupStatus.confirmed or shift.starts_at > utcnow():
        raise Conflict(N_("Only a confirmed volunteer who has not come can be marked absent"))
    _record_no_show(session, signup)
    audit.record(session, actor, "volunteer.signup.no_show", "volunteer_signup", signup.id)
    return signup
