"""The training and quiz REST API under /api/v1/training."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile

from gongchuang.core import files, organisations
from gongchuang.core.api import PROBLEMS
from gongchuang.core.errors import NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.identity import mask_name
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.permissions import Principal
from gongchuang.core.web import CurrentPrincipal, DbSession, Id, Require
from gongchuang.training import quiz, service, targets
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.quiz.views import (
    attempt_out,
    bank_out,
    campaign_out,
    leaderboard_out,
    result_out,
)
from gongchuang.training.schemas import (
    AccreditationIn,
    AccreditationOut,
    AssessmentIn,
    AttemptOut,
    AttemptStartIn,
    AttendanceIn,
    BankIn,
    BankOut,
    CampaignIn,
    CampaignOut,
    CertificateOut,
    ClassIn,
    ClassOut,
    CompletionOut,
    CourseDetailOut,
    CourseIn,
    CourseOut,
    CourseQuizIn,
    CourseStatusIn,
    EnrolmentOut,
    ExpenseIn,
    ExpenseOut,
    ImportOut,
    LeaderboardOut,
    LessonIn,
    LessonOut,
    ProgrammeIn,
    ProgrammeOut,
    ProgressIn,
    ProgressOut,
    ProgressReportOut,
    QuestionIn,
    QuestionOut,
    ResultOut,
    RosterImportOut,
    SpotCheckIn,
    SpotCheckOut,
    SubmissionIn,
    TargetsIn,
    TextLessonIn,
    TraineeOut,
)
from gongchuang.training.service.views import (
    class_out,
    course_out,
    enrolment_out,
    lesson_out,
    trainees_out,
)

router = APIRouter(prefix="/api/v1/training", tags=["training"], responses=PROBLEMS)
Learning = Annotated[Principal, Depends(Require(TrainingPerm.LEARN))]
Publishing = Annotated[Principal, Depends(Require(TrainingPerm.PUBLISH))]
InstitutionStaff = Annotated[Principal, Depends(Require(TrainingPerm.INSTITUTION))]
DepartmentStaff = Annotated[Principal, Depends(Require(TrainingPerm.DEPARTMENT))]
CampaignSlug = Annotated[str, Path(max_length=60)]


# --- courses ----------------------------------------------------------------------------------


@router.get("/courses")
def list_courses(
    session: DbSession,
    category: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=50)] = None,
) -> list[CourseOut]:
    """Published courses: public, no login needed."""
    courses = service.catalog(session, category=category, search=q)
    counts = service.lesson_counts(session, [c.id for c in courses])
    return [course_out(session, c, counts.get(c.id, 0)) for c in courses]


@router.post("/courses", status_code=201)
def create_course(data: CourseIn, session: DbSession, principal: Publishing) -> CourseOut:
    organisation = organisations.get_organisation_for(
        session, principal, data.organisation_id, TrainingPerm.PUBLISH
    )
    course = service.create_course(session, principal, organisation, data)
    return course_out(session, course)


@router.get("/courses/{course_id}")
def get_course(course_id: Id, session: DbSession, principal: CurrentPrincipal) -> CourseDetailOut:
    course = service.get_course(session, principal, course_id)
    return CourseDetailOut(
        **course_out(session, course).model_dump(),
        lessons=[lesson_out(lesson) for lesson in service.lessons_of(session, course.id)],
    )


@router.post("/courses/{course_id}/lessons", status_code=201)
def add_text_lesson(
    course_id: Id, data: TextLessonIn, session: DbSession, principal: Publishing
) -> LessonOut:
    lesson = service.add_lesson(
        session, principal, course_id, LessonIn(kind="text", **data.model_dump())
    )
    return lesson_out(lesson)


@router.put("/courses/{course_id}/status")
def set_course_status(
    course_id: Id, data: CourseStatusIn, session: DbSession, principal: Publishing
) -> CourseOut:
    return course_out(
        session, service.set_course_status(session, principal, course_id, data.status)
    )


@router.put("/courses/{course_id}/quiz")
def set_course_quiz(
    course_id: Id, data: CourseQuizIn, session: DbSession, principal: Publishing
) -> CourseOut:
    quiz.set_course_quiz(session, principal, course_id, **data.model_dump())
    return course_out(session, service.get_course_to_edit(session, principal, course_id))


@router.post("/courses/{course_id}/enrolment")
def enrol(course_id: Id, session: DbSession, principal: Learning) -> EnrolmentOut:
    """Enrol (again: no change)."""
    return enrolment_out(session, service.enrol(session, principal, course_id))


@router.get("/courses/{course_id}/enrolment")
def my_enrolment(course_id: Id, session: DbSession, principal: Learning) -> EnrolmentOut:
    return enrolment_out(session, service.my_enrolment(session, principal, course_id))


@router.post("/progress")
def record_progress(data: ProgressIn, session: DbSession, principal: Learning) -> ProgressOut:
    """Progress from the lesson pages, including a queue a phone kept while offline."""
    return ProgressOut(applied=service.record_progress(session, principal, data.items))


@router.post("/courses/{course_id}/completion")
def complete_course(course_id: Id, session: DbSession, principal: Learning) -> EnrolmentOut:
    """Completes the course when every lesson is done and the quiz passed; else 422 saying
    what is missing."""
    return enrolment_out(session, service.complete_course(session, principal, course_id))


@router.get("/certificates/{code}")
def verify_certificate(
    code: Annotated[str, Path(max_length=24)], session: DbSession
) -> CertificateOut:
    """Public: what a certificate's QR code opens."""
    enrolment, course, person = service.certificate_by_code(session, code)
    issuer = organisations.get_organisation(session, course.organisation_id)
    if enrolment.completed_at is None or enrolment.certificate_code is None:
        raise NotFound(N_("No certificate has this code"))
    return CertificateOut(
        code=enrolment.certificate_code,
        holder=mask_name(person.name),
        course=course.title,
        issuer=issuer.name,
        completed_at=enrolment.completed_at,
    )


# --- institutions and classes -----------------------------------------------------------------


@router.post("/departments/{organisation_id}/accreditations", status_code=201)
def accredit(
    organisation_id: Id, data: AccreditationIn, session: DbSession, principal: DepartmentStaff
) -> AccreditationOut:
    accreditation = service.accredit_institution(session, principal, organisation_id, data)
    return AccreditationOut.model_validate(accreditation)


@router.post("/institutions/{organisation_id}/classes", status_code=201)
def create_class(
    organisation_id: Id, data: ClassIn, session: DbSession, principal: InstitutionStaff
) -> ClassOut:
    institution = organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.INSTITUTION
    )
    klass = service.create_class(session, principal, institution, data)
    return class_out(session, klass)


@router.get("/institutions/{organisation_id}/classes")
def list_classes(
    organisation_id: Id, session: DbSession, principal: InstitutionStaff
) -> list[ClassOut]:
    institution = organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.INSTITUTION
    )
    return [class_out(session, k) for k in service.classes_of(session, institution.id)]


@router.get("/classes/{class_id}")
def get_class(class_id: Id, session: DbSession, principal: InstitutionStaff) -> ClassOut:
    return class_out(session, service.get_class_for(session, principal, class_id))


@router.get("/classes/{class_id}/roster")
def get_roster(class_id: Id, session: DbSession, principal: InstitutionStaff) -> list[TraineeOut]:
    """Phones and ID numbers masked."""
    return trainees_out(session, service.get_class_for(session, principal, class_id))


@router.post("/classes/{class_id}/roster", status_code=201, max_body_size=UPLOAD_BODY_BYTES)
def import_roster(
    class_id: Id,
    file: Annotated[UploadFile, File()],
    session: DbSession,
    principal: InstitutionStaff,
) -> RosterImportOut:
    """Excel or CSV: 姓名, 手机号, 身份证号, 职务. All rows or none; bad rows listed by line."""
    data = files.read_upload(file.file)
    result = service.import_roster(
        session, principal, class_id, data, file.filename or "roster.xlsx"
    )
    return RosterImportOut.model_validate(result)


@router.put("/classes/{class_id}/attendance/{day}")
def record_attendance(
    class_id: Id, day: date, data: AttendanceIn, session: DbSession, principal: InstitutionStaff
) -> list[TraineeOut]:
    """The day's register: trainees listed are present, every other enrolled trainee absent."""
    service.record_attendance(session, principal, class_id, day, set(data.present))
    return trainees_out(session, service.get_class_for(session, principal, class_id))


@router.put("/classes/{class_id}/assessment")
def record_assessment(
    class_id: Id, data: AssessmentIn, session: DbSession, principal: InstitutionStaff
) -> list[TraineeOut]:
    service.record_assessment(session, principal, class_id, data)
    return trainees_out(session, service.get_class_for(session, principal, class_id))


@router.post("/classes/{class_id}/completion")
def complete_class(class_id: Id, session: DbSession, principal: InstitutionStaff) -> CompletionOut:
    """Close the class: who passed completes and receives the class's credential."""
    return CompletionOut.model_validate(service.complete_class(session, principal, class_id))


@router.post("/classes/{class_id}/expenses", status_code=201)
def record_expense(
    class_id: Id, data: ExpenseIn, session: DbSession, principal: InstitutionStaff
) -> ExpenseOut:
    expense = service.record_expense(session, principal, class_id, **data.model_dump())
    return ExpenseOut.model_validate(expense)


@router.post("/classes/{class_id}/spot-checks", status_code=201)
def spot_check(
    class_id: Id, data: SpotCheckIn, session: DbSession, principal: DepartmentStaff
) -> SpotCheckOut:
    check = service.record_spot_check(session, principal, class_id, data)
    return SpotCheckOut.model_validate(check)


# --- programmes and targets -------------------------------------------------------------------


@router.post("/departments/{organisation_id}/programmes", status_code=201)
def create_programme(
    organisation_id: Id, data: ProgrammeIn, session: DbSession, principal: DepartmentStaff
) -> ProgrammeOut:
    department = organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.DEPARTMENT
    )
    programme = targets.create_programme(session, principal, department, **data.model_dump())
    return ProgrammeOut.model_validate(programme)


@router.put("/programmes/{programme_id}/targets")
def set_targets(
    programme_id: Id, data: TargetsIn, session: DbSession, principal: DepartmentStaff
) -> ProgressReportOut:
    targets.set_targets(session, principal, programme_id, data)
    return ProgressReportOut.model_validate(
        targets.progress(session, targets.get_programme_for(session, principal, programme_id))
    )


@router.get("/programmes/{programme_id}/progress")
def get_progress(
    programme_id: Id,
    session: DbSession,
    principal: DepartmentStaff,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> ProgressReportOut:
    programme = targets.get_programme_for(session, principal, programme_id)
    return ProgressReportOut.model_validate(targets.progress(session, programme, year))


# --- quizzes ----------------------------------------------------------------------------------


@router.post("/banks", status_code=201)
def create_bank(data: BankIn, session: DbSession, principal: Publishing) -> BankOut:
    organisation = organisations.get_organisation_for(
        session, principal, data.organisation_id, TrainingPerm.PUBLISH
    )
    return bank_out(
        session, quiz.create_bank(session, principal, organisation, data.name, data.description)
    )


@router.get("/banks/{bank_id}/questions")
def list_questions(bank_id: Id, session: DbSession, principal: Publishing) -> list[QuestionOut]:
    bank = quiz.get_bank_for(session, principal, bank_id)
    return [QuestionOut.model_validate(q) for q in quiz.questions_of(session, bank.id)]


@router.post("/banks/{bank_id}/questions", status_code=201)
def add_question(
    bank_id: Id, data: QuestionIn, session: DbSession, principal: Publishing
) -> QuestionOut:
    question = quiz.add_question(
        session, principal, bank_id, quiz.QuestionInput(**data.model_dump())
    )
    return QuestionOut.model_validate(question)


@router.post("/banks/{bank_id}/import", status_code=201, max_body_size=UPLOAD_BODY_BYTES)
def import_questions(
    bank_id: Id, file: Annotated[UploadFile, File()], session: DbSession, principal: Publishing
) -> ImportOut:
    """Excel or CSV: 题型, 题目, 选项A–F, 答案, 解析, 来源, 标签. All rows or none."""
    data = files.read_upload(file.file)
    created = quiz.import_questions(
        session, principal, bank_id, data, file.filename or "questions.xlsx"
    )
    return ImportOut(created=created)


@router.post("/campaigns", status_code=201)
def create_campaign(data: CampaignIn, session: DbSession, principal: Publishing) -> CampaignOut:
    organisation = organisations.get_organisation_for(
        session, principal, data.organisation_id, TrainingPerm.PUBLISH
    )
    return campaign_out(session, quiz.publish_campaign(session, principal, organisation, data))


@router.get("/campaigns/{slug}")
def get_campaign(slug: CampaignSlug, session: DbSession) -> CampaignOut:
    """Public: a campaign's rules and how many have taken part."""
    return campaign_out(session, quiz.campaign_by_slug(session, slug))


@router.get("/campaigns/{slug}/leaderboard")
def get_leaderboard(
    slug: CampaignSlug, session: DbSession, principal: CurrentPrincipal
) -> LeaderboardOut:
    """Public: the top participants and regions; `me` when logged in."""
    campaign = quiz.campaign_by_slug(session, slug)
    key = quiz.participant_key(principal)
    return leaderboard_out(session, campaign, key)


@router.post("/campaigns/{slug}/attempts")
def start_attempt(
    slug: CampaignSlug, data: AttemptStartIn, session: DbSession, principal: Learning
) -> AttemptOut:
    """Your running attempt, or a new paper within today's limit. No answers in it."""
    campaign = quiz.campaign_by_slug(session, slug)
    participant = quiz.participant_for_person(session, principal, data.nickname)
    return attempt_out(session, quiz.start_attempt(session, campaign, participant), campaign.slug)


@router.post("/attempts/{attempt_id}/submission")
def submit_attempt(
    attempt_id: Id, data: SubmissionIn, session: DbSession, principal: Learning
) -> ResultOut:
    """Scored on the server. A resend with the same `submission_key` returns the first result;
    another key is 409; after the time limit, 409 and nothing counted."""
    if principal.person_id is None:
        raise NotFound()
    attempt = quiz.submit_attempt(session, attempt_id, quiz.person_key(principal.person_id), data)
    return result_out(session, attempt)
