"""The shapes of courses, enrolments, classes and trainees that the API returns and the pages
show: read once here, so a page and the API cannot say different things."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.identity import mask_phone
from gongchuang.training.models import ClassTrainee, Course, Enrolment, Lesson, TrainingClass
from gongchuang.training.schemas import (
    ClassOut,
    CourseOut,
    EnrolmentOut,
    LessonOut,
    LessonStateOut,
    TraineeOut,
)
from gongchuang.training.service.classes import attendance_days
from gongchuang.training.service.funding import funding_of
from gongchuang.training.service.learning import CourseState, course_state
from gongchuang.training.service.queries import lesson_counts, roster


def lesson_out(lesson: Lesson) -> LessonOut:
    return LessonOut(
        id=lesson.id,
        position=lesson.position,
        title=lesson.title,
        kind=lesson.kind,
        body=lesson.body,
        transcript=lesson.transcript,
        file_url=f"/training/lessons/{lesson.id}/file" if lesson.file_id else None,
        duration_seconds=lesson.duration_seconds,
    )


def course_out(session: Session, course: Course, lesson_count: int | None = None) -> CourseOut:
    if lesson_count is None:
        lesson_count = lesson_counts(session, [course.id]).get(course.id, 0)
    return CourseOut(
        id=course.id,
        organisation_id=course.organisation_id,
        title=course.title,
        summary=course.summary,
        category=course.category,
        author_name=course.author_name,
        status=course.status,
        lesson_count=lesson_count,
        has_quiz=course.quiz_campaign_id is not None,
        credential_kind=course.credential_kind,
    )


def enrolment_out(
    session: Session, enrolment: Enrolment, state: CourseState | None = None
) -> EnrolmentOut:
    state = state or course_state(session, enrolment)
    return EnrolmentOut(
        course_id=enrolment.course_id,
        enrolled_at=enrolment.enrolled_at,
        completed_at=enrolment.completed_at,
        lessons_done=state.lessons_done,
        lesson_count=len(state.lessons),
        quiz_passed=state.quiz_passed,
        still_to_do=[] if enrolment.completed_at else state.blockers,
        certificate_url=f"/training/courses/{enrolment.course_id}/certificate.pdf"
        if enrolment.completed_at
        else None,
        progress=[
            LessonStateOut(
                lesson_id=p.lesson_id,
                position_seconds=p.position_seconds,
                completed=p.completed_at is not None,
            )
            for p in state.progress.values()
        ],
    )


def class_out(session: Session, klass: TrainingClass) -> ClassOut:
    funding = funding_of(session, klass)
    trainees = session.scalar(
        select(func.count(ClassTrainee.id)).where(ClassTrainee.class_id == klass.id)
    )
    return ClassOut(
        id=klass.id,
        institution_organisation_id=klass.institution_organisation_id,
        programme_id=klass.programme_id,
        title=klass.title,
        cohort=klass.cohort,
        starts_on=klass.starts_on,
        ends_on=klass.ends_on,
        onsite_days=klass.onsite_days,
        online_hours=klass.online_hours,
        venue=klass.venue,
        trainer_name=klass.trainer_name,
        funding_per_trainee_fen=klass.funding_per_trainee_fen,
        funding_budget_fen=funding.budget_fen,
        funding_spent_fen=funding.spent_fen,
        status=klass.status,
        trainees=int(trainees or 0),
        credential_kind=klass.credential_kind,
    )


def trainees_out(
    session: Session, klass: TrainingClass, present: dict[int, set[date]] | None = None
) -> list[TraineeOut]:
    if present is None:
        _days, present = attendance_days(session, klass.id)
    return [
        TraineeOut(
            id=trainee.id,
            name=person.name,
            phone=mask_phone(person.phone),
            resident_id=person.id_number_masked,
            position_title=trainee.position_title,
            status=trainee.status,
            days_present=len(present.get(trainee.id, set())),
            assessment_score=trainee.assessment_score,
            outcome_note=trainee.outcome_note,
            credential_id=trainee.credential_id,
        )
        for trainee, person in roster(session, klass.id)
    ]
