"""Publishing courses: their fields, lessons and status, and who may edit or see them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound, parse_command, refuse_if_any
from gongchuang.core.i18n import N_, Phrase
from gongchuang.core.models import Organisation, StoredFile
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.training.models import (
    Course,
    CourseStatus,
    Lesson,
    LessonKind,
    QuestionBank,
    QuizCampaign,
)
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.schemas import CourseFields, LessonIn
from gongchuang.training.service._common import check_credential, enrolment_of, lessons_of

CATEGORIES = {
    "policy": N_("Policy and governance"),
    "agriculture": N_("Agricultural technique"),
    "skills": N_("General skills"),
    "health": N_("Health and first aid"),
    "ecommerce": N_("Rural e-commerce"),
}


LESSON_FILE_TYPES = {
    LessonKind.video: frozenset({"video/mp4", "video/webm"}),
    LessonKind.document: frozenset({"application/pdf"}),
    LessonKind.image: frozenset({"image/jpeg", "image/png", "image/webp"}),
}


@dataclass(frozen=True)
class CourseInput:
    """A course's fields from code (the demo, tests): checked here as `CourseFields`, the
    contract of the API and the course form, is checked on the way in."""

    title: str
    summary: str
    category: str
    author_name: str = ""
    programme_id: int | None = None
    credential_kind: str | None = None
    credential_title: str = ""
    credential_valid_days: int | None = None


def _course_fields(data: CourseInput | CourseFields) -> dict[str, object]:
    errors: list[dict[str, object]] = []
    fields: dict[str, object] = {}
    for name, limit, required in (
        ("title", 200, True),
        ("summary", 5000, False),
        ("author_name", 100, False),
    ):
        try:
            fields[name] = clean_text(
                getattr(data, name), name, max_length=limit, required=required
            )
        except InvalidInput as exc:
            errors += exc.errors
    if data.category not in CATEGORIES:
        errors.append({"field": "category", "message": N_("Please choose one of the options.")})
    check_credential(
        data.credential_kind, data.credential_title, data.credential_valid_days, errors
    )
    refuse_if_any(errors)
    return {
        **fields,
        "category": data.category,
        "programme_id": data.programme_id,
        "credential_kind": data.credential_kind or None,
        "credential_title": data.credential_title.strip() if data.credential_kind else "",
        "credential_valid_days": data.credential_valid_days if data.credential_kind else None,
    }


def create_course(
    session: Session, actor: Principal, organisation: Organisation, data: CourseInput | CourseFields
) -> Course:
    if not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    course = Course(organisation_id=organisation.id, **_course_fields(data))
    session.add(course)
    session.flush()
    audit.record(session, actor, "training.course.create", "training_course", course.id)
    return course


def update_course(
    session: Session, actor: Principal, course_id: int, data: CourseInput | CourseFields
) -> Course:
    course = get_course_to_edit(session, actor, course_id)
    for name, value in _course_fields(data).items():
        setattr(course, name, value)
    audit.record(session, actor, "training.course.update", "training_course", course.id)
    return course


Published = TypeVar("Published", Course, QuestionBank, QuizCampaign)


def for_publisher(session: Session, actor: Principal, item: Published | None) -> Published:
    """A course, question bank or campaign for its organisation's publishers; for anyone else
    it does not exist (a forbidden and a missing one look the same)."""
    organisation = session.get(Organisation, item.organisation_id) if item else None
    if item is None or not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    return item


def get_course_to_edit(session: Session, actor: Principal, course_id: int) -> Course:
    return for_publisher(session, actor, session.get(Course, course_id))


def can_edit(session: Session, actor: Principal, course: Course) -> bool:
    organisation = session.get(Organisation, course.organisation_id)
    return has_permission(session, actor, TrainingPerm.PUBLISH, organisation)


def get_course(session: Session, actor: Principal, course_id: int) -> Course:
    """A published course for anyone; a draft or taken-down one only for its publisher and the
    learners already enrolled in it."""
    course = session.get(Course, course_id)
    if course is None:
        raise NotFound()
    if course.status == CourseStatus.published or can_edit(session, actor, course):
        return course
    if actor.person_id and enrolment_of(session, actor.person_id, course.id) is not None:
        return course
    raise NotFound()


@dataclass(frozen=True)
class LessonInput:
    """A lesson's fields from code (the demo, tests), read into `LessonIn` on the way in."""

    title: str
    kind: str
    body: str = ""
    transcript: str = ""
    duration_seconds: int = 0


def lesson_file(session: Session, actor: Principal, lesson_id: int) -> StoredFile:
    """The file of a lesson the actor may see."""
    _course, lesson = get_lesson(session, actor, lesson_id)
    stored = session.get(StoredFile, lesson.file_id) if lesson.file_id else None
    if stored is None:
        raise NotFound()
    return stored


def add_lesson(
    session: Session,
    actor: Principal,
    course_id: int,
    data: LessonIn | LessonInput,
    file: StoredFile | None = None,
) -> Lesson:
    """A lesson at the end of the course. What the lesson needs beside its fields (a text
    lesson its text, a video its transcript, the file its kind) is checked here, where the
    stored file is known."""
    course = get_course_to_edit(session, actor, course_id)
    if isinstance(data, LessonInput):
        data = parse_command(LessonIn, asdict(data))
    title = clean_text(data.title, "title", max_length=200)
    errors: list[dict[str, object]] = []
    if data.kind == LessonKind.text and not data.body.strip():
        errors.append({"field": "body", "message": N_("a text lesson needs its text")})
    elif data.kind != LessonKind.text:
        accepted = LESSON_FILE_TYPES[LessonKind(data.kind)]
        if file is None:
            errors.append({"field": "file", "message": N_("this kind of lesson needs its file")})
        elif file.content_type not in accepted:
            expected = ", ".join(sorted(accepted))
            message = Phrase(N_("expected %(types)s"), types=expected)
            errors.append({"field": "file", "message": message})
    if data.kind == LessonKind.video and not data.transcript.strip():
        errors.append({"field": "transcript", "message": N_("a video needs a transcript")})
    refuse_if_any(errors)
    position = session.scalar(
        select(func.coalesce(func.max(Lesson.position), 0)).where(Lesson.course_id == course.id)
    )
    lesson = Lesson(
        course_id=course.id,
        position=int(position or 0) + 1,
        title=title,
        kind=data.kind,
        body=data.body.strip(),
        transcript=data.transcript.strip(),
        file_id=file.id if file else None,
        duration_seconds=data.duration_seconds,
    )
    session.add(lesson)
    session.flush()
    audit.record(session, actor, "training.lesson.add", "training_lesson", lesson.id)
    return lesson


def set_course_status(session: Session, actor: Principal, course_id: int, status: str) -> Course:
    course = get_course_to_edit(session, actor, course_id)
    if status not in CourseStatus.__members__ or status == CourseStatus.draft:
        raise InvalidInput(N_("A course can be published or unpublished"))
    if status == CourseStatus.published and not lessons_of(session, course.id):
        raise InvalidInput(N_("Add at least one lesson before publishing"))
    if course.status != status:
        course.status = status
        if status == CourseStatus.published and course.published_at is None:
            course.published_at = utcnow()
        audit.record(session, actor, f"training.course.{status}", "training_course", course.id)
    return course


def get_lesson(
    session: Session, actor: Principal, lesson_id: int, *, course_id: int | None = None
) -> tuple[Course, Lesson]:
    """A lesson of a course the actor may see; of that course only when `course_id` is given."""
    lesson = session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound()
    course = get_course(session, actor, lesson.course_id)
    if course_id is not None and course.id != course_id:
        raise NotFound()
    return course, lesson
