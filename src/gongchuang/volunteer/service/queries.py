"""Read-only queries that feed pages, the API and the home page: lists of activities and
sign-ups, rosters, ledgers, benefits on offer and the fill-rate board. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from gongchuang.core.clock import local_midnight, utcnow
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.pagination import NumberedPage, numbered_page
from gongchuang.core.permissions import Principal
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
)
from gongchuang.volunteer.service._common import local_day


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


def hours_ledger(session: Session, person_id: int, limit: int = 200) -> list[HoursEntry]:
    return list(
        session.scalars(
            select(HoursEntry)
            .where(HoursEntry.person_id == person_id)
            .order_by(HoursEntry.id.desc())
            .limit(limit)
        )
    )


def feedback_summary(session: Session, activity: Activity) -> tuple[float | None, list[str]]:
    rows = session.execute(
        select(Feedback.rating, Feedback.comment).where(Feedback.activity_id == activity.id)
    ).all()
    if not rows:
        return None, []
    return round(sum(r for r, _ in rows) / len(rows), 1), [c for _, c in rows if c][-20:]


def certificates_of(session: Session, person_id: int) -> list[Certificate]:
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.person_id == person_id)
            .order_by(Certificate.id.desc())
        )
    )


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
