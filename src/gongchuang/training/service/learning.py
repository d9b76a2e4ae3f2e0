"""A learner in a course: enrolment, progress that survives a phone going offline,
completion and certificates."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, events, notifications, people
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Person
from gongchuang.core.permissions import Principal
from gongchuang.topics.training import CourseCompleted
from gongchuang.training.models import (
    Course,
    CourseStatus,
    Enrolment,
    Lesson,
    LessonProgress,
    QuizAttempt,
    QuizCampaign,
)
from gongchuang.training.schemas import ProgressItemIn
from gongchuang.training.service._common import (
    course_of,
    course_of_quiz,
    enrolment_of,
    issue_credential,
    lessons_of,
)


def enrol(session: Session, actor: Principal, course_id: int) -> Enrolment:
    if actor.person_id is None:
        raise NotFound()
    course = session.get(Course, course_id)
    if course is None or course.status != CourseStatus.published:
        raise NotFound()
    existing = enrolment_of(session, actor.person_id, course.id)
    if existing is not None:
        return existing
    person = people.get_person(session, actor.person_id)
    enrolment = Enrolment(course_id=course.id, person_id=person.id, region_id=person.home_region_id)
    try:
        # One enrolment per learner and course (a unique pair): of two taps at once the second
        # gets the first's enrolment, as it would a moment later.
        with session.begin_nested():
            session.add(enrolment)
            session.flush()
    except IntegrityError:
        winner = enrolment_of(session, person.id, course.id)
        if winner is None:
            raise
        return winner
    audit.record(session, actor, "training.enrol", "training_course", course.id)
    return enrolment


@dataclass(frozen=True)
class ProgressItem:
    lesson_id: int
    position_seconds: int
    completed: bool
    recorded_at: datetime  # on the phone, perhaps hours ago while offline


def record_progress(
    session: Session, actor: Principal, items: Sequence[ProgressItem | ProgressItemIn]
) -> int:
    """Progress from a phone, possibly a queue saved offline and sent out of order: the latest
    recorded position wins, completion is never undone. Returns how many items were applied."""
    if actor.person_id is None:
        raise NotFound()
    now = utcnow()
    applied = 0
    lessons = {
        lesson.id: lesson
        for lesson in session.scalars(
            select(Lesson).where(Lesson.id.in_({i.lesson_id for i in items}))
        )
    }
    # The learner's enrolments and progress rows for these lessons, read once: a queue from a
    # phone that was offline during a video holds many items for the same lesson. The
    # enrolments are locked so that a second queue sent at the same moment (two phones) waits
    # and then finds the progress rows this one adds (one per lesson, a unique pair).
    enrolments = {
        e.course_id: e
        for e in session.scalars(
            select(Enrolment)
            .where(
                Enrolment.person_id == actor.person_id,
                Enrolment.course_id.in_({lesson.course_id for lesson in lessons.values()}),
            )
            .order_by(Enrolment.id)
            .with_for_update()
        )
    }
    rows = {
        (p.enrolment_id, p.lesson_id): p
        for p in session.scalars(
            select(LessonProgress).where(
                LessonProgress.enrolment_id.in_([e.id for e in enrolments.values()]),
                LessonProgress.lesson_id.in_(list(lessons)),
            )
        )
    }
    touched: set[int] = set()
    for item in sorted(items, key=lambda i: i.recorded_at):
        lesson = lessons.get(item.lesson_id)
        enrolment = enrolments.get(lesson.course_id) if lesson else None
        if lesson is None or enrolment is None:
            raise InvalidInput(
                N_("You are not enrolled in the course of lesson %(id)s"),
                id=item.lesson_id,
                errors=[{"field": "lesson_id", "message": N_("not enrolled")}],
            )
        moment = min(item.recorded_at, now)
        progress = rows.get((enrolment.id, lesson.id))
        if progress is None:
            progress = rows[(enrolment.id, lesson.id)] = LessonProgress(
                enrolment_id=enrolment.id,
                lesson_id=lesson.id,
                position_seconds=0,
                updated_at=moment,
            )
            session.add(progress)
        elif moment < progress.updated_at:
            if item.completed and progress.completed_at is None:
                progress.completed_at = moment
                applied += 1
            continue
        progress.position_seconds = max(0, min(item.position_seconds, 86_400))
        progress.updated_at = moment
        if item.completed and progress.completed_at is None:
            progress.completed_at = moment
        enrolment.last_lesson_id = lesson.id
        touched.add(enrolment.id)
        applied += 1
    session.flush()
    for enrolment in enrolments.values():
        if (
            enrolment.id in touched
            and enrolment.completed_at is None
            and not course_blockers(session, enrolment)
        ):
            _finish_course(session, enrolment)
    return applied


def progress_of(session: Session, enrolment: Enrolment) -> dict[int, LessonProgress]:
    return {
        p.lesson_id: p
        for p in session.scalars(
            select(LessonProgress).where(LessonProgress.enrolment_id == enrolment.id)
        )
    }


def quiz_passed(session: Session, course: Course, person_id: int) -> bool:
    if course.quiz_campaign_id is None:
        return True
    campaign = session.get(QuizCampaign, course.quiz_campaign_id)
    if campaign is None:
        raise LookupError(f"quiz campaign {course.quiz_campaign_id} of course {course.id}")
    best = session.scalar(
        select(
            func.max(
                QuizAttempt.correct_count * 100 - campaign.pass_percent * QuizAttempt.question_count
            )
        ).where(
            QuizAttempt.campaign_id == campaign.id,
            QuizAttempt.person_id == person_id,
            QuizAttempt.status == "submitted",
        )
    )
    return best is not None and best >= 0


@dataclass(frozen=True)
class CourseState:
    """A learner's standing in a course, read once for the page, the API and the rule."""

    lessons: list[Lesson]
    progress: dict[int, LessonProgress]
    quiz_passed: bool

    @property
    def lessons_done(self) -> int:
        return sum(1 for p in self.progress.values() if p.completed_at is not None)

    @property
    def blockers(self) -> list[str]:
        """What still stands between the learner and completing: untranslated message ids."""
        done = {i for i, p in self.progress.items() if p.completed_at is not None}
        blockers = []
        if {lesson.id for lesson in self.lessons} - done:
            blockers.append(N_("Finish every lesson"))
        if not self.quiz_passed:
            blockers.append(N_("Pass the course quiz"))
        return blockers


def course_state(session: Session, enrolment: Enrolment) -> CourseState:
    course = course_of(session, enrolment)
    return CourseState(
        lessons_of(session, course.id),
        progress_of(session, enrolment),
        quiz_passed(session, course, enrolment.person_id),
    )


def course_blockers(session: Session, enrolment: Enrolment) -> list[str]:
    return course_state(session, enrolment).blockers


def my_enrolment(session: Session, actor: Principal, course_id: int) -> Enrolment:
    """The actor's own enrolment in a course; for anyone not enrolled it does not exist."""
    if actor.person_id is None:
        raise NotFound()
    enrolment = enrolment_of(session, actor.person_id, course_id)
    if enrolment is None:
        raise NotFound()
    return enrolment


def completed_enrolment(
    session: Session, actor: Principal, course_id: int
) -> tuple[Enrolment, Course]:
    """The actor's enrolment in a course they completed, with the course: their certificate."""
    enrolment = my_enrolment(session, actor, course_id)
    if enrolment.completed_at is None or not enrolment.certificate_code:
        raise NotFound()
    return enrolment, course_of(session, enrolment)


def complete_course(session: Session, actor: Principal, course_id: int) -> Enrolment:
    enrolment = my_enrolment(session, actor, course_id)
    if enrolment.completed_at is not None:
        return enrolment
    blockers = course_blockers(session, enrolment)
    if blockers:
        raise InvalidInput(
            N_("The course is not complete yet: %(what)s"),
            what=blockers[0],
            errors=[{"field": "course", "message": b} for b in blockers],
        )
    _finish_course(session, enrolment)
    return enrolment


def _finish_course(session: Session, enrolment: Enrolment) -> None:
    course = course_of(session, enrolment)
    # Once per enrolment: a last lesson synced from two phones, or a lesson and the quiz passed
    # at the same moment, must not issue two certificates (the conditional UPDATE waits for
    # the other transaction on PostgreSQL, then finds the course already complete).
    finished = session.execute(
        update(Enrolment)
        .where(Enrolment.id == enrolment.id, Enrolment.completed_at.is_(None))
        .values(completed_at=utcnow(), certificate_code=secrets.token_urlsafe(12))
        .execution_options(synchronize_session=False)
    )
    session.refresh(enrolment, ["completed_at", "certificate_code"])
    if finished.rowcount != 1:  # type: ignore[attr-defined]
        return
    if course.credential_kind:
        enrolment.credential_id = issue_credential(
            session,
            course.organisation_id,
            enrolment.person_id,
            course.credential_kind,
            course.credential_title,
            course.credential_valid_days,
            f"C{course.id}-{enrolment.certificate_code}",
        )
    audit.record(
        session,
        Principal(person_id=enrolment.person_id, name="learner"),
        "training.course.complete",
        "training_enrolment",
        enrolment.id,
        after={"course": course.id, "credential": enrolment.credential_id},
    )
    events.publish(
        session,
        CourseCompleted(
            course_id=course.id,
            person_id=enrolment.person_id,
            organisation_id=course.organisation_id,
        ),
    )
    notifications.notify(
        session,
        enrolment.person_id,
        kind="training.course_completed",
        title=N_("You completed the course %(title)s: your certificate is ready"),
        params={"title": course.title},
        link=f"/training/courses/{course.id}",
    )


def after_quiz_passed(session: Session, campaign_id: int, person_id: int) -> None:
    """A course quiz was passed: if the lessons are done too, the course is complete."""
    course = course_of_quiz(session, campaign_id)
    enrolment = enrolment_of(session, person_id, course.id) if course else None
    if (
        enrolment is not None
        and enrolment.completed_at is None
        and not course_blockers(session, enrolment)
    ):
        _finish_course(session, enrolment)


def certificate_by_code(session: Session, code: str) -> tuple[Enrolment, Course, Person]:
    enrolment = session.scalar(select(Enrolment).where(Enrolment.certificate_code == code[:24]))
    if enrolment is None or enrolment.completed_at is None:
        raise NotFound(N_("No certificate has this code"))
    person = session.get(Person, enrolment.person_id)
    if person is None:
        raise LookupError(f"person {enrolment.person_id} of enrolment {enrolment.id}")
    return enrolment, course_of(session, enrolment), person
