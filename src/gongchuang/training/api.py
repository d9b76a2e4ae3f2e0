"""The training and quiz REST API under /api/v1/training."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import files, organisations
from gongchuang.core.api import PROBLEMS
from gongchuang.core.errors import NotFound
from gongchuang.core.identity import mask_name, mask_phone
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.permissions import Principal
from gongchuang.core.web import CurrentPrincipal, DbSession, Id, Require
from gongchuang.training import quiz, service, targets
from gongchuang.training.models import (
    ClassTrainee,
    Course,
    Enrolment,
    Lesson,
    Programme,
    Question,
    QuestionBank,
    QuizAttempt,
    QuizCampaign,
    TrainingClass,
)
from gongchuang.training.permissions import TrainingPerm
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
    InstitutionProgressOut,
    LeaderboardOut,
    LessonOut,
    LessonStateOut,
    MyStandingOut,
    PaperQuestionOut,
    ProgrammeIn,
    ProgrammeOut,
    ProgressIn,
    ProgressOut,
    ProgressReportOut,
    ProvinceProgressOut,
    QuestionIn,
    QuestionOut,
    RankOut,
    ResultOut,
    ReviewedQuestionOut,
    RosterImportOut,
    SpotCheckIn,
    SpotCheckOut,
    SubmissionIn,
    TargetsIn,
    TextLessonIn,
    TraineeOut,
)

router = APIRouter(prefix="/api/v1/training", tags=["training"], responses=PROBLEMS)
Learning = Annotated[Principal, Depends(Require(TrainingPerm.LEARN))]
Publishing = Annotated[Principal, Depends(Require(TrainingPerm.PUBLISH))]
InstitutionStaff = Annotated[Principal, Depends(Require(TrainingPerm.INSTITUTION))]
DepartmentStaff = Annotated[Principal, Depends(Require(TrainingPerm.DEPARTMENT))]
CampaignSlug = Annotated[str, Path(max_length=60)]


# --- shapes shared with the pages -------------------------------------------------------------


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
        lesson_count = service.lesson_counts(session, [course.id]).get(course.id, 0)
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
    session: Session, enrolment: Enrolment, state: service.CourseState | None = None
) -> EnrolmentOut:
    state = state or service.course_state(session, enrolment)
    progress = state.progress
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
            for p in progress.values()
        ],
    )


def class_out(session: Session, klass: TrainingClass) -> ClassOut:
    funding = service.funding_of(session, klass)
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
        _days, present = service.attendance_days(session, klass.id)
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
        for trainee, person in service.roster(session, klass.id)
    ]


def campaign_out(session: Session, campaign: QuizCampaign) -> CampaignOut:
    participants, attempts = quiz.campaign_totals(session, campaign.id)
    return CampaignOut(
        id=campaign.id,
        slug=campaign.slug,
        title=campaign.title,
        description=campaign.description,
        status=campaign.status,
        running=quiz.is_running(campaign),
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        questions_per_paper=sum(p["count"] for p in campaign.pools),
        time_limit_seconds=campaign.time_limit_seconds,
        daily_attempt_limit=campaign.daily_attempt_limit,
        points_for_completing=campaign.points_for_completing,
        points_per_correct=campaign.points_per_correct,
        points_for_all_correct=campaign.points_for_all_correct,
        allow_guests=campaign.allow_guests,
        participants=participants,
        attempts=attempts,
    )


def attempt_out(session: Session, attempt: QuizAttempt, slug: str) -> AttemptOut:
    return AttemptOut(
        id=attempt.id,
        campaign_slug=slug,
        status=attempt.status,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        questions=[
            PaperQuestionOut(number=q.number, kind=q.kind, stem=q.stem, options=q.options)
            for q in quiz.paper_of(session, attempt)
        ],
    )


def result_out(session: Session, attempt: QuizAttempt) -> ResultOut:
    return ResultOut(
        attempt_id=attempt.id,
        status=attempt.status,
        correct_count=attempt.correct_count,
        question_count=attempt.question_count,
        score=attempt.score,
        share_url=f"/quiz/results/{attempt.share_code}",
        questions=[
            ReviewedQuestionOut(
                number=q.number,
                kind=q.kind,
                stem=q.stem,
                options=q.options,
                chosen=q.chosen or [],
                correct=q.correct or [],
                is_correct=q.is_correct,
                explanation=q.explanation,
                source=q.source,
            )
            for q in quiz.paper_of(session, attempt)
        ],
    )


def leaderboard_out(
    session: Session, campaign: QuizCampaign, participant_key: str | None
) -> LeaderboardOut:
    me = quiz.standing_of(session, campaign.id, participant_key) if participant_key else None
    return LeaderboardOut(
        people=[RankOut(**vars(r)) for r in quiz.leaderboard(session, campaign.id)],
        regions=[RankOut(**vars(r)) for r in quiz.region_leaderboard(session, campaign.id)],
        me=MyStandingOut(**vars(me)) if me else None,
    )


def question_out(question: Question) -> QuestionOut:
    return QuestionOut(
        id=question.id,
        kind=question.kind,
        stem=question.stem,
        options=question.options,
        correct=question.correct,
        explanation=question.explanation,
        source=question.source,
        tag=question.tag,
    )


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
    course = service.create_course(
        session,
        principal,
        organisation,
        service.CourseInput(**data.model_dump(exclude={"organisation_id"})),
    )
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
        session, principal, course_id, service.LessonInput(data.title, "text", data.body)
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
    assert principal.person_id is not None
    enrolment = service.enrolment_of(session, principal.person_id, course_id)
    if enrolment is None:
        raise NotFound()
    return enrolment_out(session, enrolment)


@router.post("/progress")
def record_progress(data: ProgressIn, session: DbSession, principal: Learning) -> ProgressOut:
    """Progress from the lesson pages, including a queue a phone kept while offline."""
    items = [
        service.ProgressItem(i.lesson_id, i.position_seconds, i.completed, i.recorded_at)
        for i in data.items
    ]
    return ProgressOut(applied=service.record_progress(session, principal, items))


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
    assert enrolment.completed_at is not None and enrolment.certificate_code is not None
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
    department = organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.DEPARTMENT
    )
    institution = organisations.get_organisation(session, data.institution_organisation_id)
    accreditation = service.accredit(
        session,
        principal,
        department,
        institution,
        accreditation_no=data.accreditation_no,
        valid_until=data.valid_until,
        note=data.note,
    )
    return AccreditationOut.model_validate(accreditation, from_attributes=True)


@router.post("/institutions/{organisation_id}/classes", status_code=201)
def create_class(
    organisation_id: Id, data: ClassIn, session: DbSession, principal: InstitutionStaff
) -> ClassOut:
    institution = organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.INSTITUTION
    )
    klass = service.create_class(
        session, principal, institution, service.ClassInput(**data.model_dump())
    )
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
    return RosterImportOut(**vars(result))


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
    service.record_assessment(
        session, principal, class_id, {s.trainee_id: s.score for s in data.scores}
    )
    return trainees_out(session, service.get_class_for(session, principal, class_id))


@router.post("/classes/{class_id}/completion")
def complete_class(class_id: Id, session: DbSession, principal: InstitutionStaff) -> CompletionOut:
    """Close the class: who passed completes and receives the class's credential."""
    return CompletionOut(**vars(service.complete_class(session, principal, class_id)))


@router.post("/classes/{class_id}/expenses", status_code=201)
def record_expense(
    class_id: Id, data: ExpenseIn, session: DbSession, principal: InstitutionStaff
) -> ExpenseOut:
    expense = service.record_expense(session, principal, class_id, **data.model_dump())
    return ExpenseOut.model_validate(expense, from_attributes=True)


@router.post("/classes/{class_id}/spot-checks", status_code=201)
def spot_check(
    class_id: Id, data: SpotCheckIn, session: DbSession, principal: DepartmentStaff
) -> SpotCheckOut:
    department = organisations.get_organisation_for(
        session, principal, data.department_organisation_id, TrainingPerm.DEPARTMENT
    )
    check = service.spot_check(
        session,
        principal,
        class_id,
        department,
        **data.model_dump(exclude={"department_organisation_id"}),
    )
    return SpotCheckOut.model_validate(check, from_attributes=True)


# --- programmes and targets -------------------------------------------------------------------


@router.post("/departments/{organisation_id}/programmes", status_code=201)
def create_programme(
    organisation_id: Id, data: ProgrammeIn, session: DbSession, principal: DepartmentStaff
) -> ProgrammeOut:
    department = organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.DEPARTMENT
    )
    programme = targets.create_programme(session, principal, department, **data.model_dump())
    return ProgrammeOut.model_validate(programme, from_attributes=True)


@router.put("/programmes/{programme_id}/targets")
def set_targets(
    programme_id: Id, data: TargetsIn, session: DbSession, principal: DepartmentStaff
) -> ProgressReportOut:
    targets.set_targets(
        session,
        principal,
        programme_id,
        [targets.TargetInput(**t.model_dump()) for t in data.targets],
    )
    return progress_out(
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
    return progress_out(targets.progress(session, programme, year))


def progress_out(report: targets.Progress) -> ProgressReportOut:
    programme: Programme = report.programme
    return ProgressReportOut(
        programme=ProgrammeOut.model_validate(programme, from_attributes=True),
        year=report.year,
        provinces=[
            ProvinceProgressOut(
                region_id=p.region_id, name=p.name, planned=p.planned, actual=p.actual
            )
            for p in report.provinces
        ],
        institutions=[InstitutionProgressOut(**vars(i)) for i in report.institutions],
        months=report.months,
        actual_by_month=report.actual_by_month,
        plan_by_month=report.plan_by_month,
    )


# --- quizzes ----------------------------------------------------------------------------------


def bank_out(session: Session, bank: QuestionBank) -> BankOut:
    count = session.scalar(select(func.count(Question.id)).where(Question.bank_id == bank.id))
    return BankOut(
        id=bank.id, organisation_id=bank.organisation_id, name=bank.name, questions=int(count or 0)
    )


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
    return [question_out(q) for q in quiz.questions_of(session, bank.id)]


@router.post("/banks/{bank_id}/questions", status_code=201)
def add_question(
    bank_id: Id, data: QuestionIn, session: DbSession, principal: Publishing
) -> QuestionOut:
    question = quiz.add_question(
        session, principal, bank_id, quiz.QuestionInput(**data.model_dump())
    )
    return question_out(question)


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
    campaign = quiz.create_campaign(
        session,
        principal,
        organisation,
        quiz.CampaignInput(
            **data.model_dump(exclude={"organisation_id", "open_now", "pools"}),
            pools=[p.model_dump() for p in data.pools],
        ),
    )
    if data.open_now:
        quiz.set_campaign_status(session, principal, campaign.id, "open")
    return campaign_out(session, campaign)


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
    key = quiz.person_key(principal.person_id) if principal.person_id else None
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
    assert principal.person_id is not None
    attempt = quiz.submit_attempt(
        session, attempt_id, quiz.person_key(principal.person_id), data.submission_key, data.answers
    )
    return result_out(session, attempt)
