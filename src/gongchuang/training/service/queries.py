"""Read-only lists that feed pages, the API's listings and the home page: nothing here
writes or decides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import credentials
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Credential, Organisation, Person
from gongchuang.core.permissions import Principal
from gongchuang.training.models import (
    Accreditation,
    ClassTrainee,
    Course,
    CourseStatus,
    Enrolment,
    Lesson,
    LessonProgress,
    SpotCheck,
    TrainingClass,
)


def lesson_counts(session: Session, course_ids: list[int]) -> dict[int, int]:
    """Lessons per course, for a list of courses in one query."""
    if not course_ids:
        return {}
    return {
        course_id: int(count)
        for course_id, count in session.execute(
            select(Lesson.course_id, func.count(Lesson.id))
            .where(Lesson.course_id.in_(course_ids))
            .group_by(Lesson.course_id)
        ).all()
    }


def catalog(
    session: Session, *, category: str | None = None, search: str | None = None, limit: int = 50
) -> list[Course]:
    query = select(Course).where(Course.status == CourseStatus.published)
    if category:
        query = query.where(Course.category == category)
    if search:
        query = query.where(Course.title.contains(search.strip()[:50], autoescape=True))
    return list(session.scalars(query.order_by(Course.published_at.desc()).limit(limit)))


def courses_of(session: Session, organisation_id: int) -> list[Course]:
    return list(
        session.scalars(
            select(Course).where(Course.organisation_id == organisation_id).order_by(Course.id)
        )
    )


def my_enrolments(session: Session, person_id: int) -> list[tuple[Enrolment, Course]]:
    return [
        (e, c)
        for e, c in session.execute(
            select(Enrolment, Course)
            .join(Course, Course.id == Enrolment.course_id)
            .where(Enrolment.person_id == person_id)
            .order_by(Enrolment.enrolled_at.desc())
        ).all()
    ]


@dataclass(frozen=True)
class CourseUnderway:
    course: Course
    lessons_done: int
    lessons: int


def home_summary(session: Session, principal: Principal) -> list[CourseUnderway] | None:
    """For a signed-in person's home page: the courses they have begun and not completed, with
    how many lessons are done, most recently begun first."""
    if principal.person_id is None:
        return None
    rows = session.execute(
        select(Enrolment, Course)
        .join(Course, Course.id == Enrolment.course_id)
        .where(Enrolment.person_id == principal.person_id, Enrolment.completed_at.is_(None))
        .order_by(Enrolment.enrolled_at.desc(), Enrolment.id.desc())
        .limit(3)
    ).all()
    if not rows:
        return None
    done: dict[int, int] = dict(
        session.execute(
            select(LessonProgress.enrolment_id, func.count(LessonProgress.id))
            .where(
                LessonProgress.enrolment_id.in_([e.id for e, _ in rows]),
                LessonProgress.completed_at.is_not(None),
            )
            .group_by(LessonProgress.enrolment_id)
        ).all()
    )
    totals = lesson_counts(session, [c.id for _, c in rows])
    return [CourseUnderway(c, done.get(e.id, 0), totals.get(c.id, 0)) for e, c in rows]


def accreditations_by(session: Session, department_id: int) -> list[tuple[Accreditation, str]]:
    return [
        (a, name)
        for a, name in session.execute(
            select(Accreditation, Organisation.name)
            .join(Organisation, Organisation.id == Accreditation.institution_organisation_id)
            .where(Accreditation.department_organisation_id == department_id)
            .order_by(Organisation.name)
        ).all()
    ]


def classes_of(session: Session, institution_id: int) -> list[TrainingClass]:
    return list(
        session.scalars(
            select(TrainingClass)
            .where(TrainingClass.institution_organisation_id == institution_id)
            .order_by(TrainingClass.starts_on.desc())
        )
    )


def roster(session: Session, class_id: int) -> list[tuple[ClassTrainee, Person]]:
    return [
        (t, p)
        for t, p in session.execute(
            select(ClassTrainee, Person)
            .join(Person, Person.id == ClassTrainee.person_id)
            .where(ClassTrainee.class_id == class_id)
            .order_by(ClassTrainee.id)
        ).all()
    ]


def my_classes(session: Session, person_id: int) -> list[tuple[ClassTrainee, TrainingClass]]:
    return [
        (t, c)
        for t, c in session.execute(
            select(ClassTrainee, TrainingClass)
            .join(TrainingClass, TrainingClass.id == ClassTrainee.class_id)
            .where(ClassTrainee.person_id == person_id)
            .order_by(TrainingClass.starts_on.desc())
        ).all()
    ]


def spot_checks_of(session: Session, class_id: int) -> list[SpotCheck]:
    return list(
        session.scalars(
            select(SpotCheck).where(SpotCheck.class_id == class_id).order_by(SpotCheck.id.desc())
        )
    )


def expiring_credentials(
    session: Session, person_id: int, within: timedelta = timedelta(days=60)
) -> list[Credential]:
    """A person's credentials still valid that run out within `within`: to renew."""
    soon = utcnow().timestamp() + within.total_seconds()
    return [
        c
        for c in credentials.credentials_of(session, person_id)
        if c.valid_until and c.revoked_at is None and c.valid_until.timestamp() < soon
    ]
