"""After the shift: the organiser confirms or corrects hours (a ledger that is only ever
added to), and the volunteer leaves feedback.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, events
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.topics.volunteer import HoursVerified
from gongchuang.volunteer.models import (
    Feedback,
    HoursEntry,
    HoursEntryKind,
    Shift,
    Signup,
    SignupStatus,
)
from gongchuang.volunteer.schemas import HoursApproval
from gongchuang.volunteer.service._common import by_person, can_manage, local_day, lock_signups
from gongchuang.volunteer.service.signups import signups_by_id
from gongchuang.volunteer.service.stars import bump_total


def shift_minutes(shift: Shift) -> int:
    return int((shift.ends_at - shift.starts_at).total_seconds() // 60)


def _post_hours(
    session: Session,
    actor: Principal,
    signup: Signup,
    minutes: int,
    kind: HoursEntryKind,
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
    lock_signups(session, signups)
    for signup in signups:
        if signup.status != SignupStatus.checked_out:
            raise Conflict(N_("Only hours waiting for confirmation can be confirmed"))
        if signup.person_id == actor.person_id:
            raise PermissionDenied(N_("You cannot confirm your own hours"))
    for signup in sorted(signups, key=by_person):
        granted = signup.pending_minutes
        if minutes is not None:
            if not 0 <= minutes <= shift_minutes(signup.shift):
                raise InvalidInput(
                    N_("Hours cannot be more than the shift's %(h)s hours"),
                    h=round(shift_minutes(signup.shift) / 60, 1),
                )
            granted = minutes
            reason = clean_text(reason, "reason", max_length=300)
        entry = _post_hours(session, actor, signup, granted, HoursEntryKind.verified, reason)
        signup.status = SignupStatus.verified
        signup.pending_minutes = 0
        bump_total(session, signup.person_id, minutes=granted, shifts=1)
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
            HoursVerified(
                person_id=signup.person_id,
                organisation_id=signup.shift.activity.organisation_id,
                signup_id=signup.id,
                minutes=granted,
                served_on=local_day(signup.shift.starts_at),
                verified_by=actor.person_id,
            ),
        )
    audit.record_many(session, actor, changes)
    return len(signups)


def confirm_hours(session: Session, actor: Principal, command: HoursApproval) -> int:
    """The hours of the sign-ups the organiser ticked, confirmed (the API and the manage page
    send the same command). Returns how many."""
    signups = signups_by_id(session, command.signup_ids)
    return approve_hours(session, actor, signups, minutes=command.minutes, reason=command.reason)


def correct_hours(
    session: Session, actor: Principal, signup: Signup, minutes: int, reason: str
) -> HoursEntry:
    """Verified hours found wrong: a reversing entry, then the right amount, with a reason."""
    if not can_manage(session, actor, signup.shift.activity.organisation):
        raise NotFound()
    lock_signups(session, [signup])
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
        session, actor, signup, -net, HoursEntryKind.reversal, reason, reverses=entries[-1].id
    )
    session.flush()
    correction = _post_hours(session, actor, signup, minutes, HoursEntryKind.correction, reason)
    bump_total(session, signup.person_id, minutes=minutes - net)
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


def set_hours(
    session: Session, actor: Principal, signup: Signup, minutes: int, reason: str
) -> None:
    """Hours set by hand, with a reason: pending ones are confirmed at this figure, confirmed
    ones corrected to it."""
    if signup.status == SignupStatus.verified:
        correct_hours(session, actor, signup, minutes, reason)
    else:
        approve_hours(session, actor, [signup], minutes=minutes, reason=reason)
