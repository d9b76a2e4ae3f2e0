"""Small helpers several parts of the volunteer service share: the Beijing day of a
moment, who manages an activity, and the row locks that serialise one volunteer's (or one
sign-up's) read-then-write work.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gongchuang.core.clock import SHANGHAI
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.volunteer.models import Activity, Signup, Volunteer
from gongchuang.volunteer.permissions import VolunteerPerm


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


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


def lock_volunteers(session: Session, person_ids: list[int]) -> None:
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


def lock_signups(session: Session, signups: list[Signup]) -> None:
    """Hold these sign-ups until commit and read their state again, for a decision taken once
    (cancel, confirm hours, correct them, mark absent): a second tap or a second organiser
    waits here for the first and then sees what it decided. In ascending order, so two
    callers locking overlapping lists never deadlock."""
    for signup in sorted(signups, key=lambda s: s.id):
        session.refresh(signup, ["status", "pending_minutes"], with_for_update=True)


def by_person(signup: Signup) -> tuple[int, int]:
    """The order in which totals rows are locked, so that two callers never deadlock."""
    return signup.person_id, signup.id


def check_period(period_from: date, period_to: date) -> None:
    """A period of days (both ends included) for certificates and exports."""
    if period_to < period_from:
        raise InvalidInput(N_("The period ends before it starts"))


def not_an_option(codes: list[str]) -> str:
    """A field's problem when it names codes that are not among the choices (which ones)."""
    return f"{gettext('Please choose one of the options.')} ({', '.join(codes)})"
