"""Business rules of online courses and offline training: publishing, enrolment, progress that
survives a phone going offline, completion and certificates, accreditation, classes, rosters,
attendance, assessment, funding and spot checks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, credentials, events, notifications, people, spreadsheets
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, refuse_bad_rows, refuse_if_any
from gongchuang.core.i18n import N_
from gongchuang.core.identity import (
    is_valid_phone,
    is_valid_resident_id,
    mask_resident_id,
    normalise_phone,
)
from gongchuang.core.models import Organisation, Person, StoredFile
from gongchuang.core.permissions import SYSTEM, Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.training.models import (
    Accreditation,
    AccreditationStatus,
    Attendance,
    ClassExpense,
    ClassStatus,
    ClassTrainee,
    Course,
    CourseStatus,
    Enrolment,
    Lesson,
    LessonKind,
    LessonProgress,
    QuestionBank,
    QuizAttempt,
    QuizCampaign,
    SpotCheck,
    TraineeStatus,
    TrainingClass,
)
from gongchuang.training.permissions import TrainingPerm

events.register_topic("training.course_completed", N_("A learner completed a course"))
events.register_topic("training.class_completed", N_("A training class was completed"))

CATEGORIES = {
    "policy": N_("Policy and governance"),
    "agriculture": N_("Agricultural technique"),
    "skills": N_("General skills"),
    "health": N_("Health and first aid"),
    "ecommerce": N_("Rural e-commerce"),
}
EXPENSE_ITEMS = {
    "teaching": N_("Teaching fees"),
    "lodging": N_("Board and lodging"),
    "materials": N_("Materials"),
    "venue": N_("Venue"),
    "travel": N_("Travel"),
    "other": N_("Other"),
}
SPOT_FINDINGS = {
    "satisfactory": N_("Satisfactory"),
    "issues": N_("Issues to correct"),
    "serious": N_("Serious: accreditation suspended"),
}
LESSON_FILE_TYPES = {
    LessonKind.video: frozenset({"video/mp4", "video/webm"}),
    LessonKind.document: frozenset({"application/pdf"}),
    LessonKind.image: frozenset({"image/jpeg", "image/png", "image/webp"}),
}


def _check_credential(
    kind: str | None, title: str, valid_days: int | None, errors: list[dict[str, object]]
) -> None:
    if not kind:
        return
    if kind not in credentials.CREDENTIAL_KINDS:
        errors.append({"field": "credential_kind", "message": f"unknown kind {kind!r}"})
    if not title.strip():
        errors.append({"field": "credential_title", "message": "required with a credential"})
    if valid_days is not None and not 1 <= valid_days <= 3650:
        errors.append({"field": "credential_valid_days", "message": "between 1 and 3650"})


def _issue(
    session: Session,
    issuer_id: int,
    person_id: int,
    kind: str,
    title: str,
    valid_days: int | None,
    number: str,
) -> int:
    """Into the core registry on the completion the staff (or the rules) decided: the registry's
    own audit entry names the system, the completion's names who decided."""
    issuer = session.get(Organisation, issuer_id)
    person = session.get(Person, person_id)
    assert issuer is not None and person is not None
    now = utcnow()
    credential = credentials.issue_credential(
        session,
        SYSTEM,
        issuer,
        person,
        kind=kind,
        title=title,
        certificate_no=number,
        valid_from=now,
        valid_until=now + timedelta(days=valid_days) if valid_days else None,
    )
    return credential.id


# --- courses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseInput:
    title: str
    summary: str
    category: str
    author_name: str = ""
    programme_id: int | None = None
    credential_kind: str | None = None
    credential_title: str = ""
    credential_valid_days: int | None = None


def _course_fields(data: CourseInput) -> dict[str, object]:
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
        errors.append({"field": "category", "message": f"one of {sorted(CATEGORIES)}"})
    _check_credential(
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
    session: Session, actor: Principal, organisation: Organisation, data: CourseInput
) -> Course:
    if not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    course = Course(organisation_id=organisation.id, **_course_fields(data))
    session.add(course)
    session.flush()
    audit.record(session, actor, "training.course.create", "training_course", course.id)
    return course


def update_course(session: Session, actor: Principal, course_id: int, data: CourseInput) -> Course:
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
    title: str
    kind: str
    body: str = ""
    transcript: str = ""
    duration_seconds: int = 0


def add_lesson(
    session: Session,
    actor: Principal,
    course_id: int,
    data: LessonInput,
    file: StoredFile | None = None,
) -> Lesson:
    course = get_course_to_edit(session, actor, course_id)
    errors: list[dict[str, object]] = []
    try:
        title = clean_text(data.title, "title", max_length=200)
    except InvalidInput as exc:
        errors += exc.errors
        title = ""
    if data.kind not in LessonKind.__members__:
        errors.append({"field": "kind", "message": "text, video, document or image"})
    elif data.kind == LessonKind.text and not data.body.strip():
        errors.append({"field": "body", "message": "a text lesson needs its text"})
    elif data.kind != LessonKind.text:
        accepted = LESSON_FILE_TYPES[LessonKind(data.kind)]
        if file is None:
            errors.append({"field": "file", "message": f"a {data.kind} lesson needs its file"})
        elif file.content_type not in accepted:
            errors.append({"field": "file", "message": f"expected {', '.join(sorted(accepted))}"})
    if data.kind == LessonKind.video and not data.transcript.strip():
        errors.append({"field": "transcript", "message": "a video needs a transcript"})
    if not 0 <= data.duration_seconds <= 86_400:
        errors.append({"field": "duration_seconds", "message": "between 0 and 86400"})
    if len(data.body) > 100_000 or len(data.transcript) > 100_000:
        errors.append({"field": "body", "message": "at most 100,000 characters"})
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


def lessons_of(session: Session, course_id: int) -> list[Lesson]:
    return list(
        session.scalars(
            select(Lesson).where(Lesson.course_id == course_id).order_by(Lesson.position)
        )
    )


def get_lesson(session: Session, actor: Principal, lesson_id: int) -> tuple[Course, Lesson]:
    lesson = session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound()
    return get_course(session, actor, lesson.course_id), lesson


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


# --- enrolment, progress, completion -----------------------------------------------------------


def enrolment_of(session: Session, person_id: int, course_id: int) -> Enrolment | None:
    return session.scalar(
        select(Enrolment).where(Enrolment.person_id == person_id, Enrolment.course_id == course_id)
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


@dataclass(frozen=True)
class ProgressItem:
    lesson_id: int
    position_seconds: int
    completed: bool
    recorded_at: datetime  # on the phone, perhaps hours ago while offline


def record_progress(session: Session, actor: Principal, items: list[ProgressItem]) -> int:
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
                errors=[{"field": "lesson_id", "message": "not enrolled"}],
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
    assert campaign is not None
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
    course = session.get(Course, enrolment.course_id)
    assert course is not None
    return CourseState(
        lessons_of(session, course.id),
        progress_of(session, enrolment),
        quiz_passed(session, course, enrolment.person_id),
    )


def course_blockers(session: Session, enrolment: Enrolment) -> list[str]:
    return course_state(session, enrolment).blockers


def complete_course(session: Session, actor: Principal, course_id: int) -> Enrolment:
    if actor.person_id is None:
        raise NotFound()
    enrolment = enrolment_of(session, actor.person_id, course_id)
    if enrolment is None:
        raise NotFound()
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
    course = session.get(Course, enrolment.course_id)
    assert course is not None
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
        enrolment.credential_id = _issue(
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
        "training.course_completed",
        {
            "course_id": course.id,
            "person_id": enrolment.person_id,
            "organisation_id": course.organisation_id,
        },
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
    course = session.scalar(select(Course).where(Course.quiz_campaign_id == campaign_id))
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
    course = session.get(Course, enrolment.course_id)
    person = session.get(Person, enrolment.person_id)
    assert course is not None and person is not None
    return enrolment, course, person


# --- accreditation ----------------------------------------------------------------------------


def accredit(
    session: Session,
    actor: Principal,
    department: Organisation,
    institution: Organisation,
    *,
    accreditation_no: str,
    valid_until: date,
    note: str = "",
) -> Accreditation:
    """A department accredits (or re-accredits) an institution in its region."""
    if not has_permission(session, actor, TrainingPerm.DEPARTMENT, department):
        raise NotFound()
    if not has_permission(session, actor, TrainingPerm.DEPARTMENT, institution):
        raise InvalidInput(
            N_("The institution is outside this department's region"),
            errors=[{"field": "institution", "message": "outside the region"}],
        )
    number = clean_text(accreditation_no, "accreditation_no", max_length=64)
    if valid_until <= local_today():
        raise InvalidInput(
            N_("The accreditation must be valid after today"),
            errors=[{"field": "valid_until", "message": "in the past"}],
        )
    now = utcnow()
    terms = {
        "accreditation_no": number,
        "valid_until": valid_until,
        "status": AccreditationStatus.active.value,
        "note": note.strip()[:2000],
        "updated_at": now,
    }
    # One accreditation per institution and department: created or renewed in one statement,
    # so two clerks saving it at once both succeed and the later terms stand.
    accreditation = session.scalars(
        upsert(session, Accreditation)
        .values(
            institution_organisation_id=institution.id,
            department_organisation_id=department.id,
            created_at=now,
            **terms,
        )
        .on_conflict_do_update(
            index_elements=["institution_organisation_id", "department_organisation_id"],
            set_=terms,
        )
        .returning(Accreditation),
        execution_options={"populate_existing": True},
    ).one()
    audit.record(
        session,
        actor,
        "training.accredit",
        "organisation",
        institution.id,
        after={"department": department.id, "no": number, "until": valid_until},
    )
    return accreditation


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


def active_accreditation(session: Session, institution_id: int) -> Accreditation | None:
    return session.scalar(
        select(Accreditation)
        .where(
            Accreditation.institution_organisation_id == institution_id,
            Accreditation.status == AccreditationStatus.active,
            Accreditation.valid_until >= local_today(),
        )
        .order_by(Accreditation.valid_until.desc())
        .limit(1)
    )


# --- classes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassInput:
    title: str
    starts_on: date
    ends_on: date
    onsite_days: int
    venue: str
    trainer_name: str
    cohort: str = ""
    online_hours: int = 0
    online_course_id: int | None = None
    programme_id: int | None = None
    funding_per_trainee_fen: int = 0
    pass_score: int = 60
    min_attendance_percent: int = 80
    credential_kind: str | None = None
    credential_title: str = ""
    credential_valid_days: int | None = None


def create_class(
    session: Session, actor: Principal, institution: Organisation, data: ClassInput
) -> TrainingClass:
    if not has_permission(session, actor, TrainingPerm.INSTITUTION, institution):
        raise NotFound()
    if active_accreditation(session, institution.id) is None:
        raise Conflict(N_("The institution holds no valid accreditation: it cannot open classes"))
    errors: list[dict[str, object]] = []
    texts: dict[str, str] = {}
    for name, limit, required in (
        ("title", 200, True),
        ("venue", 300, True),
        ("trainer_name", 100, True),
        ("cohort", 100, False),
    ):
        try:
            texts[name] = clean_text(getattr(data, name), name, max_length=limit, required=required)
        except InvalidInput as exc:
            errors += exc.errors
    span = (data.ends_on - data.starts_on).days + 1
    if span < 1:
        errors.append({"field": "ends_on", "message": "before the start"})
    elif span > 366:
        errors.append({"field": "ends_on", "message": "a class lasts at most a year"})
    if not 1 <= data.onsite_days <= max(span, 1):
        errors.append({"field": "onsite_days", "message": f"between 1 and {max(span, 1)}"})
    if not 0 <= data.online_hours <= 2000:
        errors.append({"field": "online_hours", "message": "between 0 and 2000"})
    if not 0 <= data.funding_per_trainee_fen <= 100_000_00:
        errors.append({"field": "funding_per_trainee_fen", "message": "0 to 100,000 yuan"})
    if not 0 <= data.pass_score <= 100:
        errors.append({"field": "pass_score", "message": "0 to 100"})
    if not 0 <= data.min_attendance_percent <= 100:
        errors.append({"field": "min_attendance_percent", "message": "0 to 100"})
    if data.online_course_id is not None and session.get(Course, data.online_course_id) is None:
        errors.append({"field": "online_course_id", "message": "no such course"})
    _check_credential(
        data.credential_kind, data.credential_title, data.credential_valid_days, errors
    )
    refuse_if_any(errors)
    klass = TrainingClass(
        institution_organisation_id=institution.id,
        programme_id=data.programme_id,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        onsite_days=data.onsite_days,
        online_hours=data.online_hours,
        online_course_id=data.online_course_id,
        funding_per_trainee_fen=data.funding_per_trainee_fen,
        pass_score=data.pass_score,
        min_attendance_percent=data.min_attendance_percent,
        credential_kind=data.credential_kind or None,
        credential_title=data.credential_title.strip() if data.credential_kind else "",
        credential_valid_days=data.credential_valid_days if data.credential_kind else None,
        **texts,
    )
    session.add(klass)
    session.flush()
    audit.record(session, actor, "training.class.create", "training_class", klass.id)
    return klass


def classes_of(session: Session, institution_id: int) -> list[TrainingClass]:
    return list(
        session.scalars(
            select(TrainingClass)
            .where(TrainingClass.institution_organisation_id == institution_id)
            .order_by(TrainingClass.starts_on.desc())
        )
    )


def institution_to_view(
    session: Session, actor: Principal, organisation_id: int
) -> tuple[Organisation, bool]:
    """(institution, may manage). Its own staff run it; the department that accredits it
    (reaching it by region) sees it without managing, as it sees the institution's classes.
    Everyone else: not found."""
    institution = session.get(Organisation, organisation_id)
    if institution is None:
        raise NotFound()
    if has_permission(session, actor, TrainingPerm.INSTITUTION, institution):
        return institution, True
    if has_permission(session, actor, TrainingPerm.DEPARTMENT, institution):
        return institution, False
    raise NotFound()


def get_class_for(
    session: Session, actor: Principal, class_id: int, *, manage: bool = False
) -> TrainingClass:
    """The institution's staff may run it; its accrediting department (by region) may look and
    spot-check. Everyone else: not found."""
    klass = session.get(TrainingClass, class_id)
    institution = session.get(Organisation, klass.institution_organisation_id) if klass else None
    if klass is None or institution is None:
        raise NotFound()
    if has_permission(session, actor, TrainingPerm.INSTITUTION, institution):
        return klass
    if not manage and has_permission(session, actor, TrainingPerm.DEPARTMENT, institution):
        return klass
    raise NotFound()


def _class_to_manage(session: Session, actor: Principal, class_id: int) -> TrainingClass:
    """The class for its institution's staff, its row locked until commit and read afresh: the
    roster, the registers, the scores, the spending and the completion of one class change one
    at a time, each seeing what the one before it committed (two completions at once would
    otherwise issue two sets of credentials, and two expenses at once pass the funding cap).
    FOR NO KEY UPDATE, so rows that merely point at the class are not held up."""
    get_class_for(session, actor, class_id, manage=True)
    klass = session.scalar(
        select(TrainingClass)
        .where(TrainingClass.id == class_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if klass is None:
        raise NotFound()
    return klass


def _open_class(session: Session, actor: Principal, class_id: int) -> TrainingClass:
    klass = _class_to_manage(session, actor, class_id)
    if klass.status != ClassStatus.open:
        raise Conflict(N_("This class is closed: its records can no longer change"))
    return klass


ROSTER_COLUMNS = {
    "name": ("name", "姓名"),
    "phone": ("phone", "手机号", "手机号码", "联系电话"),
    "resident_id": ("resident_id", "id_number", "身份证号", "身份证号码"),
    "position_title": ("position", "title", "职务"),
}


@dataclass(frozen=True)
class RosterImport:
    added: int
    registered: int
    unchanged: int


def import_roster(
    session: Session, actor: Principal, class_id: int, data: bytes, filename: str
) -> RosterImport:
    """Trainees from the institution's spreadsheet (name, phone, resident ID, position). All or
    nothing: every bad row is reported with its line and nothing is stored."""
    klass = _open_class(session, actor, class_id)
    rows = spreadsheets.read_rows(
        data, filename, ROSTER_COLUMNS, required={"name", "phone", "resident_id"}
    )
    errors: list[dict[str, object]] = []
    seen_phones: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    parsed = []
    for row in rows:
        phone = normalise_phone(row.values["phone"])
        resident_id = row.values["resident_id"].strip().upper()
        problems = []
        if not row.values["name"].strip():
            problems.append("name is empty")
        if not is_valid_phone(phone):
            problems.append(f"phone {row.values['phone']!r} is not an 11-digit mobile number")
        elif phone in seen_phones:
            problems.append(f"phone repeats line {seen_phones[phone]}")
        if not is_valid_resident_id(resident_id):
            problems.append("resident ID number is invalid (length, birth date or check digit)")
        elif resident_id in seen_ids:
            problems.append(f"resident ID repeats line {seen_ids[resident_id]}")
        else:
            person = session.scalar(select(Person).where(Person.phone == phone))
            id_hash = people.resident_id_hash(resident_id)
            holder = session.scalar(select(Person.id).where(Person.id_number_hash == id_hash))
            if person is not None and person.id_number_hash and person.id_number_hash != id_hash:
                problems.append("this phone is registered with a different resident ID")
            elif holder is not None and (person is None or holder != person.id):
                problems.append("this resident ID is registered with a different phone")
        for problem in problems:
            errors.append({"line": row.line, "message": problem})
        seen_phones.setdefault(phone, row.line)
        seen_ids.setdefault(resident_id, row.line)
        parsed.append((row, phone, resident_id))
    spreadsheets.name_rows(errors, rows, "phone")  # never the resident ID: it is kept masked
    refuse_bad_rows(errors)
    on_roster = set(
        session.scalars(
            select(Person.phone)
            .join(ClassTrainee, ClassTrainee.person_id == Person.id)
            .where(ClassTrainee.class_id == klass.id)
        )
    )
    added = registered = unchanged = 0
    for row, phone, resident_id in parsed:
        if phone in on_roster:
            unchanged += 1
            continue
        person = session.scalar(select(Person).where(Person.phone == phone))
        if person is None:
            person = _register_trainee(session, actor, row.values["name"], phone, resident_id)
            registered += 1
        elif person.id_number_hash is None:
            person.id_number_hash = people.resident_id_hash(resident_id)
            person.id_number_masked = mask_resident_id(resident_id)
        session.add(
            ClassTrainee(
                class_id=klass.id,
                person_id=person.id,
                position_title=row.values.get("position_title", "").strip()[:100],
            )
        )
        added += 1
    session.flush()
    audit.record(
        session,
        actor,
        "training.roster.import",
        "training_class",
        klass.id,
        after={"added": added, "registered": registered, "unchanged": unchanged},
    )
    return RosterImport(added, registered, unchanged)


def _register_trainee(
    session: Session, actor: Principal, name: str, phone: str, resident_id: str
) -> Person:
    try:
        # Another institution's roster may register the same person at this moment (phone
        # and ID number are unique): theirs wins, this import is refused with the reason,
        # and sent again it finds the person registered.
        with session.begin_nested():
            return people.register_person(
                session, actor, name=name.strip(), phone=phone, resident_id=resident_id
            )
    except IntegrityError:
        if session.scalar(select(Person.id).where(Person.phone == phone)) is not None:
            raise Conflict(N_("This phone number is already registered")) from None
        id_hash = people.resident_id_hash(resident_id)
        if session.scalar(select(Person.id).where(Person.id_number_hash == id_hash)) is not None:
            raise Conflict(N_("This resident ID number is already registered")) from None
        raise


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


def withdraw_trainee(session: Session, actor: Principal, class_id: int, trainee_id: int) -> None:
    klass = _open_class(session, actor, class_id)
    trainee = session.get(ClassTrainee, trainee_id)
    if trainee is None or trainee.class_id != klass.id:
        raise NotFound()
    trainee.status = TraineeStatus.withdrawn
    audit.record(session, actor, "training.trainee.withdraw", "training_class_trainee", trainee.id)


def record_attendance(
    session: Session, actor: Principal, class_id: int, day: date, present: set[int]
) -> int:
    """One day's register: every enrolled trainee is marked present or absent."""
    klass = _open_class(session, actor, class_id)
    if not klass.starts_on <= day <= klass.ends_on:
        raise InvalidInput(
            N_("The day must fall within the class dates"),
            errors=[{"field": "day", "message": "outside the class"}],
        )
    if day > local_today():
        raise InvalidInput(
            N_("Attendance cannot be recorded for a day still to come"),
            errors=[{"field": "day", "message": "in the future"}],
        )
    trainees = {
        t.id: t
        for t in session.scalars(
            select(ClassTrainee).where(
                ClassTrainee.class_id == klass.id, ClassTrainee.status == TraineeStatus.enrolled
            )
        )
    }
    unknown = present - set(trainees)
    if unknown:
        raise InvalidInput(
            N_("Some of the people marked present are not on this class's roster"),
            errors=[{"field": "present", "message": f"not on the roster: {sorted(unknown)}"}],
        )
    existing = {
        a.trainee_id: a
        for a in session.scalars(
            select(Attendance).where(Attendance.class_id == klass.id, Attendance.day == day)
        )
    }
    for trainee_id in trainees:
        record = existing.get(trainee_id)
        if record is None:
            record = Attendance(class_id=klass.id, trainee_id=trainee_id, day=day, present=False)
            session.add(record)
        record.present = trainee_id in present
        record.recorded_by_person_id = actor.person_id
        record.recorded_at = utcnow()
    audit.record(
        session,
        actor,
        "training.attendance",
        "training_class",
        klass.id,
        after={"day": day, "present": len(present), "of": len(trainees)},
    )
    return len(present)


def attendance_days(session: Session, class_id: int) -> tuple[list[date], dict[int, set[date]]]:
    """The days with a register, and for each trainee the days they were present."""
    days: set[date] = set()
    present: dict[int, set[date]] = {}
    for trainee_id, day, was_present in session.execute(
        select(Attendance.trainee_id, Attendance.day, Attendance.present).where(
            Attendance.class_id == class_id
        )
    ).all():
        days.add(day)
        if was_present:
            present.setdefault(trainee_id, set()).add(day)
    return sorted(days), present


def record_assessment(
    session: Session, actor: Principal, class_id: int, scores: dict[int, int]
) -> None:
    klass = _open_class(session, actor, class_id)
    trainees = {
        t.id: t
        for t in session.scalars(select(ClassTrainee).where(ClassTrainee.class_id == klass.id))
    }
    errors: list[dict[str, object]] = []
    for trainee_id, score in scores.items():
        if trainee_id not in trainees:
            errors.append({"field": f"score_{trainee_id}", "message": "not on the roster"})
        elif not 0 <= score <= 100:
            errors.append({"field": f"score_{trainee_id}", "message": "0 to 100"})
    refuse_if_any(errors)
    for trainee_id, score in scores.items():
        trainees[trainee_id].assessment_score = score
    audit.record(
        session, actor, "training.assessment", "training_class", klass.id, after={"scores": scores}
    )


@dataclass(frozen=True)
class ClassCompletion:
    completed: int
    not_passed: int
    credentials: int


def complete_class(session: Session, actor: Principal, class_id: int) -> ClassCompletion:
    """Close the class: a trainee who attended enough days and passed the assessment completes
    (and receives the class's credential); the others do not, with the reason recorded."""
    klass = _open_class(session, actor, class_id)
    if local_today() < klass.ends_on:
        raise InvalidInput(
            N_("The class ends on %(day)s: complete it after its last day"), day=klass.ends_on
        )
    trainees = list(
        session.scalars(
            select(ClassTrainee).where(
                ClassTrainee.class_id == klass.id, ClassTrainee.status == TraineeStatus.enrolled
            )
        )
    )
    if not trainees:
        raise InvalidInput(N_("The class has nobody on its roster"))
    missing = [t.id for t in trainees if t.assessment_score is None]
    if missing:
        raise InvalidInput(
            N_("%(count)s trainees have no assessment score yet"),
            count=len(missing),
            errors=[{"field": f"score_{i}", "message": "missing"} for i in missing],
        )
    _days, present = attendance_days(session, klass.id)
    now = utcnow()
    completed = issued = 0
    for trainee in trainees:
        attended = len(present.get(trainee.id, set()))
        percent = 100 * attended // klass.onsite_days
        score = trainee.assessment_score or 0
        if percent < klass.min_attendance_percent:
            trainee.status = TraineeStatus.not_passed
            trainee.outcome_note = f"attendance {attended}/{klass.onsite_days} days"
            continue
        if score < klass.pass_score:
            trainee.status = TraineeStatus.not_passed
            trainee.outcome_note = f"assessment {score} < {klass.pass_score}"
            continue
        trainee.status = TraineeStatus.completed
        trainee.completed_at = now
        completed += 1
        if klass.credential_kind:
            trainee.credential_id = _issue(
                session,
                klass.institution_organisation_id,
                trainee.person_id,
                klass.credential_kind,
                klass.credential_title,
                klass.credential_valid_days,
                f"T{klass.id}-{trainee.id:05d}",
            )
            issued += 1
        else:
            notifications.notify(
                session,
                trainee.person_id,
                kind="training.class_completed",
                title=N_("You completed the class %(title)s"),
                params={"title": klass.title},
                link="/training",
            )
    klass.status = ClassStatus.completed
    klass.completed_at = now
    result = ClassCompletion(completed, len(trainees) - completed, issued)
    audit.record(
        session,
        actor,
        "training.class.complete",
        "training_class",
        klass.id,
        after={"completed": completed, "not_passed": result.not_passed, "credentials": issued},
    )
    events.publish(
        session,
        "training.class_completed",
        {
            "class_id": klass.id,
            "completed": completed,
            "organisation_id": klass.institution_organisation_id,
        },
    )
    return result


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


# --- funding ----------------------------------------------------------------------------------


def record_expense(
    session: Session,
    actor: Principal,
    class_id: int,
    *,
    item: str,
    amount_fen: int,
    note: str = "",
) -> ClassExpense:
    klass = _class_to_manage(session, actor, class_id)
    if item not in EXPENSE_ITEMS:
        raise InvalidInput(N_("Unknown expense item"), errors=[{"field": "item", "message": "?"}])
    if not 0 < amount_fen <= 10_000_000_00:
        raise InvalidInput(
            N_("The amount must be more than zero"),
            errors=[{"field": "amount_fen", "message": "positive, in fen"}],
        )
    funding = funding_of(session, klass)
    if funding.spent_fen + amount_fen > funding.budget_fen:
        raise Conflict(
            N_("This would spend more than the class's funding (%(left)s yuan left)"),
            left=f"{funding.left_fen / 100:.2f}",
        )
    expense = ClassExpense(
        class_id=klass.id,
        item=item,
        amount_fen=amount_fen,
        note=note.strip()[:300],
        recorded_by_person_id=actor.person_id,
    )
    session.add(expense)
    session.flush()
    audit.record(
        session, actor, "training.expense", "training_class", klass.id,
        after={"item": item, "fen": amount_fen},
    )  # fmt: skip
    return expense


def reverse_expense(
    session: Session, actor: Principal, class_id: int, expense_id: int, reason: str
) -> ClassExpense:
    klass = get_class_for(session, actor, class_id, manage=True)
    original = session.get(ClassExpense, expense_id)
    if original is None or original.class_id != klass.id or original.amount_fen <= 0:
        raise NotFound()
    reversal = ClassExpense(
        class_id=klass.id,
        item=original.item,
        amount_fen=-original.amount_fen,
        note=clean_text(reason, "reason", max_length=300),
        reverses_id=original.id,
        recorded_by_person_id=actor.person_id,
    )
    try:
        # Once per expense, held by uq_training_class_expense_reverses_id: of two reversals
        # at once the second waits for the first and is then refused.
        with session.begin_nested():
            session.add(reversal)
            session.flush()
    except IntegrityError:
        if session.scalar(select(ClassExpense.id).where(ClassExpense.reverses_id == original.id)):
            raise Conflict(N_("This expense was already reversed")) from None
        raise
    audit.record(
        session, actor, "training.expense.reverse", "training_class", klass.id,
        after={"reverses": original.id},
    )  # fmt: skip
    return reversal


@dataclass(frozen=True)
class Funding:
    budget_fen: int
    spent_fen: int
    entries: list[ClassExpense]

    @property
    def left_fen(self) -> int:
        return self.budget_fen - self.spent_fen


def funding_of(session: Session, klass: TrainingClass) -> Funding:
    trainees = session.scalar(
        select(func.count(ClassTrainee.id)).where(
            ClassTrainee.class_id == klass.id, ClassTrainee.status != TraineeStatus.withdrawn
        )
    )
    entries = list(
        session.scalars(
            select(ClassExpense).where(ClassExpense.class_id == klass.id).order_by(ClassExpense.id)
        )
    )
    return Funding(
        budget_fen=klass.funding_per_trainee_fen * int(trainees or 0),
        spent_fen=sum(e.amount_fen for e in entries),
        entries=entries,
    )


# --- spot checks ------------------------------------------------------------------------------


def spot_check(
    session: Session,
    actor: Principal,
    class_id: int,
    department: Organisation,
    *,
    checked_on: date,
    present_count: int,
    finding: str,
    note: str = "",
) -> SpotCheck:
    """A department's unannounced visit. A serious finding suspends the institution's
    accreditation from this department until it re-accredits."""
    klass = session.get(TrainingClass, class_id)
    institution = session.get(Organisation, klass.institution_organisation_id) if klass else None
    if (
        klass is None
        or not has_permission(session, actor, TrainingPerm.DEPARTMENT, department)
        or not has_permission(session, actor, TrainingPerm.DEPARTMENT, institution)
    ):
        raise NotFound()
    errors: list[dict[str, object]] = []
    if finding not in SPOT_FINDINGS:
        errors.append({"field": "finding", "message": f"one of {sorted(SPOT_FINDINGS)}"})
    if checked_on > local_today():
        errors.append({"field": "checked_on", "message": "in the future"})
    if not 0 <= present_count <= 10_000:
        errors.append({"field": "present_count", "message": "0 to 10000"})
    if finding != "satisfactory" and not note.strip():
        errors.append({"field": "note", "message": "describe what was found"})
    refuse_if_any(errors)
    check = SpotCheck(
        class_id=klass.id,
        department_organisation_id=department.id,
        checked_by_person_id=actor.person_id,
        checked_on=checked_on,
        present_count=present_count,
        finding=finding,
        note=note.strip()[:5000],
    )
    session.add(check)
    if finding == "serious":
        session.execute(
            update(Accreditation)
            .where(
                Accreditation.institution_organisation_id == klass.institution_organisation_id,
                Accreditation.department_organisation_id == department.id,
            )
            .values(status=AccreditationStatus.suspended, updated_at=utcnow())
        )
    session.flush()
    audit.record(
        session, actor, "training.spot_check", "training_class", klass.id,
        after={"finding": finding, "present": present_count},
    )  # fmt: skip
    return check


def spot_checks_of(session: Session, class_id: int) -> list[SpotCheck]:
    return list(
        session.scalars(
            select(SpotCheck).where(SpotCheck.class_id == class_id).order_by(SpotCheck.id.desc())
        )
    )
