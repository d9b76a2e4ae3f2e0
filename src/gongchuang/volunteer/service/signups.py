"""Sign-up: a place on a shift (or on its waitlist), the requirements checked first, giving
a place up and the waitlist moving up. Places move only by conditional UPDATEs.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import credentials, notifications
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.permissions import Principal
from gongchuang.volunteer.models import (
    Activity,
    ActivityStatus,
    Shift,
    Signup,
    SignupStatus,
    Volunteer,
)
from gongchuang.volunteer.service._common import (
    get_activity,
    local_day,
    lock_signups,
    lock_volunteers,
)
from gongchuang.volunteer.service.profiles import require_volunteer


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


def signups_by_id(session: Session, signup_ids: list[int]) -> list[Signup]:
    """The sign-ups an organiser ticked, each once, in the order first given."""
    return [get_signup(session, signup_id) for signup_id in dict.fromkeys(signup_ids)]


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


def sign_up(session: Session, actor: Principal, shift_id: int) -> Signup:
    """A place on the shift, or a place on its waitlist when it is full."""
    volunteer = require_volunteer(session, actor)
    lock_volunteers(session, [volunteer.person_id])
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


def promote_waitlisted(session: Session, shift: Shift) -> Signup | None:
    """The first on the shift's waitlist takes a place that came free, and is told."""
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


def cancel_signup(session: Session, actor: Principal, signup: Signup) -> Signup:
    if signup.person_id != actor.person_id:
        raise NotFound()
    lock_signups(session, [signup])
    if signup.status not in (SignupStatus.confirmed, SignupStatus.waitlisted):
        raise Conflict(N_("Only a place not yet used can be cancelled"))
    shift = session.get(Shift, signup.shift_id)
    if shift is None:
        raise NotFound()
    held_a_place = signup.status == SignupStatus.confirmed
    signup.status = SignupStatus.cancelled
    session.flush()
    if held_a_place:
        _free_place(session, shift.id)
        promote_waitlisted(session, shift)
    session.refresh(shift, ["taken"])
    return signup
