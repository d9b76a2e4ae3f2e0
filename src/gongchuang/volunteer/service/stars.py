"""Star levels and each volunteer's totals (hours, shifts served, no-shows): the thresholds
in force, a level for some minutes, and the one place totals move.
"""

from __future__ import annotations

import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.errors import Conflict, InvalidInput, PermissionDenied
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.volunteer.models import StarScheme, VolunteerTotal

NATIONAL_STARS = [100, 300, 600, 1000, 1500]  # hours for one to five stars


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


def bump_total(
    session: Session, person_id: int, *, minutes: int = 0, shifts: int = 0, no_shows: int = 0
) -> None:
    """Move a volunteer's totals, under a row lock (callers take them in `by_person` order);
    the one place totals change."""
    row = session.get(VolunteerTotal, person_id, with_for_update=True)
    if row is None:
        row = VolunteerTotal(person_id=person_id, minutes=0, completed_shifts=0, no_shows=0)
        session.add(row)
    row.minutes += minutes
    row.completed_shifts += shifts
    row.no_shows += no_shows
    if row.minutes < 0:
        raise Conflict(N_("A correction cannot take total hours below zero"))
