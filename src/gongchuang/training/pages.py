"""HTML pages of rural training: the course catalogue and lessons (offline-capable), course
publishing, institutions' classes, departments' accreditation and dashboards, and the public quiz
campaigns (guests welcome)."""

from __future__ import annotations

import json
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from gongchuang.core import credentials, files, organisations, people
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.identity import mask_name
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import Organisation, StoredFile
from gongchuang.core.pages import xlsx_response
from gongchuang.core.pdf import qr_svg
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.web import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    FormFields,
    Id,
    LoggedIn,
    cookie_secure,
    redirect,
    render,
)
from gongchuang.training import api, quiz, reports, service, targets
from gongchuang.training.models import (
    AttemptStatus,
    Course,
    LessonKind,
    QuizAudience,
    QuizCampaign,
)
from gongchuang.training.permissions import TrainingPerm

router = APIRouter(include_in_schema=False)
GUEST_COOKIE = "gc_quiz_guest"
LESSON_KINDS = {
    "text": N_("Text"),
    "video": N_("Video"),
    "document": N_("Document (PDF)"),
    "image": N_("Illustrated"),
}
COURSE_STATUS = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "unpublished": N_("Unpublished"),
}
TRAINEE_STATUS = {
    "enrolled": N_("Enrolled"),
    "completed": N_("Completed"),
    "not_passed": N_("Not passed"),
    "withdrawn": N_("Withdrawn"),
}
CLASS_STATUS = {"open": N_("Open"), "completed": N_("Completed"), "cancelled": N_("Cancelled")}
CAMPAIGN_STATUS = {"draft": N_("Draft"), "open": N_("Open"), "closed": N_("Closed")}
ACCREDITATION_STATUS = {
    "active": N_("Accredited"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
}
QUESTION_KINDS = {
    "single": N_("Single choice"),
    "multiple": N_("Multiple choice"),
    "true_false": N_("True or false"),
}


def _labels() -> dict[str, Any]:
    return {
        "categories": service.CATEGORIES,
        "lesson_kinds": LESSON_KINDS,
        "course_status": COURSE_STATUS,
        "trainee_status": TRAINEE_STATUS,
        "class_status": CLASS_STATUS,
        "campaign_status": CAMPAIGN_STATUS,
        "accreditation_status": ACCREDITATION_STATUS,
        "question_kinds": QUESTION_KINDS,
        "expense_items": service.EXPENSE_ITEMS,
        "spot_findings": service.SPOT_FINDINGS,
        "credential_kinds": credentials.CREDENTIAL_KINDS,
    }


def _int(value: str, field: str, default: int | None = None) -> int:
    if not value.strip() and default is not None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            N_("%(field)s: a whole number is needed"),
            field=field,
            errors=[{"field": field, "message": "not a whole number"}],
        ) from None


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            N_("%(field)s: a date like 2026-05-01 is needed"),
            field=field,
            errors=[{"field": field, "message": N_("Please enter a date such as 2026-03-01.")}],
        ) from None


def _optional_int(value: str, field: str) -> int | None:
    return _int(value, field) if value.strip() else None


# --- learner ----------------------------------------------------------------------------------


@router.get("/training", response_class=HTMLResponse)
def home(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    category: Annotated[str, Query(max_length=32)] = "",
    q: Annotated[str, Query(max_length=50)] = "",
) -> HTMLResponse:
    mine = []
    classes = []
    expiring = []
    if principal.person_id:
        for enrolment, course in service.my_enrolments(session, principal.person_id):
            out = api.enrolment_out(session, enrolment)
            mine.append((course, out))
        classes = service.my_classes(session, principal.person_id)
        soon = utcnow().timestamp() + 60 * 86_400
        expiring = [
            c
            for c in credentials.credentials_of(session, principal.person_id)
            if c.valid_until and c.revoked_at is None and c.valid_until.timestamp() < soon
        ]
    return render(
        request,
        "training/home.html",
        {
            **_labels(),
            "courses": service.catalog(
                session, category=category if category in service.CATEGORIES else None, search=q
            ),
            "category": category,
            "q": q,
            "mine": mine,
            "classes": classes,
            "expiring": expiring,
            "campaigns": quiz.public_campaigns(session),
            "publishers": organisations.organisations_with(session, principal, TrainingPerm.PUBLISH)
            if principal.person_id
            else [],
            "institutions": organisations.organisations_with(
                session, principal, TrainingPerm.INSTITUTION
            )
            if principal.person_id
            else [],
            "departments": organisations.organisations_with(
                session, principal, TrainingPerm.DEPARTMENT
            )
            if principal.person_id
            else [],
        },
    )


def _course_context(session: Session, principal: Principal, course: Course) -> dict[str, Any]:
    enrolment = (
        service.enrolment_of(session, principal.person_id, course.id)
        if principal.person_id
        else None
    )
    state = service.course_state(session, enrolment) if enrolment else None
    lessons = state.lessons if state else service.lessons_of(session, course.id)
    progress = state.progress if state else {}
    organisation = organisations.get_organisation(session, course.organisation_id)
    return {
        **_labels(),
        "course": course,
        "organisation": organisation,
        "lessons": lessons,
        "enrolment": enrolment,
        "state": api.enrolment_out(session, enrolment, state) if enrolment else None,
        "progress": progress,
        "can_edit": service.can_edit(session, principal, course),
        # What the service worker keeps for reading offline: pages and their files.
        "offline_urls": [f"/training/courses/{course.id}"]
        + [f"/training/courses/{course.id}/lessons/{lesson.id}" for lesson in lessons]
        + [
            f"/training/lessons/{lesson.id}/file"
            for lesson in lessons
            if lesson.file_id and lesson.kind != LessonKind.video
        ]
        if enrolment
        else [],
    }


@router.get("/training/courses/{course_id}", response_class=HTMLResponse)
def course_page(
    request: Request, course_id: Id, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    course = service.get_course(session, principal, course_id)
    context = _course_context(session, principal, course)
    context["offline_json"] = json.dumps(context["offline_urls"])
    return render(request, "training/course.html", context)


@router.post("/training/courses/{course_id}/enrol", dependencies=[CsrfChecked])
def enrol(course_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    service.enrol(session, principal, course_id)
    return redirect(f"/training/courses/{course_id}")


@router.post("/training/courses/{course_id}/complete", dependencies=[CsrfChecked])
def complete(course_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    service.complete_course(session, principal, course_id)
    return redirect(f"/training/courses/{course_id}?completed=1")


@router.get("/training/courses/{course_id}/lessons/{lesson_id}", response_class=HTMLResponse)
def lesson_page(
    request: Request, course_id: Id, lesson_id: Id, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    course, lesson = service.get_lesson(session, principal, lesson_id)
    if course.id != course_id:
        raise NotFound()
    context = _course_context(session, principal, course)
    lessons = context["lessons"]
    index = [item.id for item in lessons].index(lesson.id)
    progress = context["progress"].get(lesson.id)
    return render(
        request,
        "training/lesson.html",
        {
            **context,
            "lesson": lesson,
            "previous": lessons[index - 1] if index > 0 else None,
            "next": lessons[index + 1] if index + 1 < len(lessons) else None,
            "position": progress.position_seconds if progress else 0,
            "done": bool(progress and progress.completed_at),
            "paragraphs": [p for p in lesson.body.split("\n") if p.strip()],
        },
    )


@router.post("/training/lessons/{lesson_id}/done", dependencies=[CsrfChecked])
def lesson_done(lesson_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    """The form behind the "done" button when scripts do not run."""
    course, lesson = service.get_lesson(session, principal, lesson_id)
    service.record_progress(
        session, principal, [service.ProgressItem(lesson.id, 0, True, utcnow())]
    )
    return redirect(f"/training/courses/{course.id}/lessons/{lesson.id}")


@router.get("/training/lessons/{lesson_id}/file")
def lesson_file(lesson_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    _course, lesson = service.get_lesson(session, principal, lesson_id)
    stored = session.get(StoredFile, lesson.file_id) if lesson.file_id else None
    if stored is None:
        raise NotFound()
    return Response(
        files.storage().load(stored.storage_key),
        media_type=stored.content_type,
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.post("/training/courses/{course_id}/quiz", dependencies=[CsrfChecked])
def course_quiz(course_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    course = service.get_course(session, principal, course_id)
    if course.quiz_campaign_id is None:
        raise NotFound()
    campaign = session.get(QuizCampaign, course.quiz_campaign_id)
    assert campaign is not None
    attempt = quiz.start_attempt(session, campaign, quiz.participant_for_person(session, principal))
    return redirect(f"/quiz/attempts/{attempt.id}")


@router.get("/training/courses/{course_id}/certificate.pdf")
def certificate(
    request: Request, course_id: Id, session: DbSession, principal: LoggedIn
) -> Response:
    assert principal.person_id is not None
    enrolment = service.enrolment_of(session, principal.person_id, course_id)
    if enrolment is None or enrolment.completed_at is None or not enrolment.certificate_code:
        raise NotFound()
    course = session.get(Course, course_id)
    assert course is not None
    person = people.get_person(session, principal.person_id)
    issuer = organisations.get_organisation(session, course.organisation_id)
    verify = (
        f"{str(request.base_url).rstrip('/')}/training/certificates/{enrolment.certificate_code}"
    )
    return Response(
        reports.certificate_pdf(enrolment, course, person.name, issuer.name, verify),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{course.id}.pdf"'},
    )


@router.get("/training/certificates/{code}", response_class=HTMLResponse)
def verify_certificate(request: Request, code: str, session: DbSession) -> HTMLResponse:
    try:
        enrolment, course, person = service.certificate_by_code(session, code)
    except NotFound:
        return render(request, "training/certificate_check.html", {"found": False}, 404)
    issuer = organisations.get_organisation(session, course.organisation_id)
    return render(
        request,
        "training/certificate_check.html",
        {
            "found": True,
            "holder": mask_name(person.name),
            "course": course,
            "issuer": issuer,
            "enrolment": enrolment,
        },
    )


# --- publishing -------------------------------------------------------------------------------


def _publisher(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.PUBLISH
    )


@router.get("/training/manage/{organisation_id}", response_class=HTMLResponse)
def manage(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = _publisher(session, principal, organisation_id)
    return render(
        request,
        "training/manage.html",
        {
            **_labels(),
            "organisation": organisation,
            "courses": service.courses_of(session, organisation.id),
            "banks": quiz.banks_of(session, organisation.id),
            "campaigns": quiz.campaigns_of(session, organisation.id),
            "programmes": targets.programmes(session),
        },
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _course_input(form: FormData) -> service.CourseInput:
    kind = _field(form, "credential_kind")
    return service.CourseInput(
        title=_field(form, "title"),
        summary=_field(form, "summary"),
        category=_field(form, "category"),
        author_name=_field(form, "author_name"),
        programme_id=_optional_int(_field(form, "programme_id"), "programme_id"),
        credential_kind=kind or None,
        credential_title=_field(form, "credential_title"),
        credential_valid_days=_optional_int(_field(form, "credential_valid_days"), "valid_days"),
    )


@router.post("/training/manage/{organisation_id}/courses", dependencies=[CsrfChecked])
def create_course(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    organisation = _publisher(session, principal, organisation_id)
    course = service.create_course(session, principal, organisation, _course_input(form))
    return redirect(f"/training/manage/courses/{course.id}")


@router.get("/training/manage/courses/{course_id}", response_class=HTMLResponse)
def edit_course(
    request: Request, course_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    course = service.get_course_to_edit(session, principal, course_id)
    campaign = (
        session.get(QuizCampaign, course.quiz_campaign_id) if course.quiz_campaign_id else None
    )
    return render(
        request,
        "training/course_edit.html",
        {
            **_labels(),
            "course": course,
            "lessons": service.lessons_of(session, course.id),
            "banks": quiz.banks_of(session, course.organisation_id),
            "campaign": campaign,
            "programmes": targets.programmes(session),
        },
    )


@router.post("/training/manage/courses/{course_id}", dependencies=[CsrfChecked])
def update_course(
    course_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    service.update_course(session, principal, course_id, _course_input(form))
    return redirect(f"/training/manage/courses/{course_id}")


@router.post(
    "/training/manage/courses/{course_id}/lessons",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def add_lesson(
    course_id: Id,
    session: DbSession,
    principal: LoggedIn,
    title: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(max_length=16)],
    body: Annotated[str, Form(max_length=100_000)] = "",
    transcript: Annotated[str, Form(max_length=100_000)] = "",
    minutes: Annotated[str, Form(max_length=6)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    service.get_course_to_edit(session, principal, course_id)
    stored = None
    if file is not None and file.filename:
        accepted = (
            service.LESSON_FILE_TYPES.get(LessonKind(kind))
            if kind in LessonKind.__members__
            else None
        )
        stored = files.save_upload(
            session,
            principal,
            filename=file.filename,
            data=files.read_upload(file.file),
            accepted=accepted or files.ACCEPTED_TYPES,
        )
    service.add_lesson(
        session,
        principal,
        course_id,
        service.LessonInput(
            title, kind, body, transcript, 60 * _int(minutes, "minutes", default=0)
        ),
        stored,
    )
    return redirect(f"/training/manage/courses/{course_id}")


@router.post("/training/manage/courses/{course_id}/status", dependencies=[CsrfChecked])
def course_status(
    course_id: Id,
    session: DbSession,
    principal: LoggedIn,
    status: Annotated[str, Form(max_length=16)],
) -> Response:
    service.set_course_status(session, principal, course_id, status)
    return redirect(f"/training/manage/courses/{course_id}")


@router.post("/training/manage/courses/{course_id}/quiz", dependencies=[CsrfChecked])
def course_quiz_settings(
    course_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    quiz.set_course_quiz(
        session,
        principal,
        course_id,
        bank_id=_int(_field(form, "bank_id"), "bank_id"),
        tag=_field(form, "tag"),
        count=_int(_field(form, "count"), "count"),
        pass_percent=_int(_field(form, "pass_percent"), "pass_percent", default=60),
    )
    return redirect(f"/training/manage/courses/{course_id}")


@router.post("/training/manage/{organisation_id}/banks", dependencies=[CsrfChecked])
def create_bank(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    organisation = _publisher(session, principal, organisation_id)
    bank = quiz.create_bank(session, principal, organisation, name, description)
    return redirect(f"/training/manage/banks/{bank.id}")


@router.get("/training/manage/banks/{bank_id}", response_class=HTMLResponse)
def bank_page(
    request: Request, bank_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    bank = quiz.get_bank_for(session, principal, bank_id)
    return render(
        request,
        "training/bank.html",
        {
            **_labels(),
            "bank": bank,
            "questions": quiz.questions_of(session, bank.id),
            "imported": request.query_params.get("imported"),
        },
    )


@router.post(
    "/training/manage/banks/{bank_id}/import",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def import_questions(
    bank_id: Id, session: DbSession, principal: LoggedIn, file: Annotated[UploadFile, File()]
) -> Response:
    count = quiz.import_questions(
        session, principal, bank_id, files.read_upload(file.file), file.filename or "questions.xlsx"
    )
    return redirect(f"/training/manage/banks/{bank_id}?imported={count}")


@router.post("/training/manage/{organisation_id}/campaigns", dependencies=[CsrfChecked])
def create_campaign(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    organisation = _publisher(session, principal, organisation_id)
    campaign = quiz.create_campaign(
        session,
        principal,
        organisation,
        quiz.CampaignInput(
            slug=_field(form, "slug"),
            title=_field(form, "title"),
            description=_field(form, "description"),
            pools=[
                {
                    "bank_id": _int(_field(form, "bank_id"), "bank_id"),
                    "tag": _field(form, "tag"),
                    "count": _int(_field(form, "count"), "count"),
                }
            ],
            time_limit_seconds=60 * _int(_field(form, "minutes"), "minutes", default=10),
            daily_attempt_limit=_int(_field(form, "daily"), "daily", default=3),
            points_for_completing=_int(_field(form, "points_completing"), "points", default=1),
            points_per_correct=_int(_field(form, "points_correct"), "points", default=0),
            points_for_all_correct=_int(_field(form, "points_all"), "points", default=2),
            allow_guests=_field(form, "allow_guests") == "true",
        ),
    )
    quiz.set_campaign_status(session, principal, campaign.id, "open")
    return redirect(f"/quiz/{campaign.slug}")


@router.post("/training/manage/campaigns/{campaign_id}/status", dependencies=[CsrfChecked])
def campaign_status(
    campaign_id: Id,
    session: DbSession,
    principal: LoggedIn,
    status: Annotated[str, Form(max_length=16)],
) -> Response:
    campaign = quiz.set_campaign_status(session, principal, campaign_id, status)
    return redirect(f"/training/manage/{campaign.organisation_id}")


# --- institutions and classes -----------------------------------------------------------------


def _institution(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.INSTITUTION
    )


@router.get("/training/institutions/{organisation_id}", response_class=HTMLResponse)
def institution_page(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    institution, can_manage = service.institution_to_view(session, principal, organisation_id)
    return render(
        request,
        "training/institution.html",
        {
            **_labels(),
            "institution": institution,
            "can_manage": can_manage,
            "accreditation": service.active_accreditation(session, institution.id),
            "classes": service.classes_of(session, institution.id),
            "programmes": targets.programmes(session),
            "courses": service.catalog(session, limit=100),
            "today": local_today(),
        },
    )


@router.post("/training/institutions/{organisation_id}/classes", dependencies=[CsrfChecked])
def create_class(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    institution = _institution(session, principal, organisation_id)
    yuan = _field(form, "funding_yuan").strip() or "0"
    try:
        funding_fen = round(float(yuan) * 100)
    except ValueError:
        raise InvalidInput(N_("The funding is an amount in yuan, like 3200 or 3200.50")) from None
    klass = service.create_class(
        session,
        principal,
        institution,
        service.ClassInput(
            title=_field(form, "title"),
            cohort=_field(form, "cohort"),
            starts_on=_date(_field(form, "starts_on"), "starts_on"),
            ends_on=_date(_field(form, "ends_on"), "ends_on"),
            onsite_days=_int(_field(form, "onsite_days"), "onsite_days"),
            online_hours=_int(_field(form, "online_hours"), "online_hours", default=0),
            online_course_id=_optional_int(_field(form, "online_course_id"), "online_course_id"),
            programme_id=_optional_int(_field(form, "programme_id"), "programme_id"),
            venue=_field(form, "venue"),
            trainer_name=_field(form, "trainer_name"),
            funding_per_trainee_fen=funding_fen,
            pass_score=_int(_field(form, "pass_score"), "pass_score", default=60),
            credential_kind=_field(form, "credential_kind") or None,
            credential_title=_field(form, "credential_title"),
            credential_valid_days=_optional_int(
                _field(form, "credential_valid_days"), "valid_days"
            ),
        ),
    )
    return redirect(f"/training/classes/{klass.id}")


@router.get("/training/classes/{class_id}", response_class=HTMLResponse)
def class_page(
    request: Request,
    class_id: Id,
    session: DbSession,
    principal: LoggedIn,
    day: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    klass = service.get_class_for(session, principal, class_id)
    institution = organisations.get_organisation(session, klass.institution_organisation_id)
    can_run = has_permission(session, principal, TrainingPerm.INSTITUTION, institution)
    today = local_today()
    default_day = min(max(today, klass.starts_on), klass.ends_on)
    try:
        register_day = date.fromisoformat(day) if day else default_day
    except ValueError:
        register_day = default_day
    days, present = service.attendance_days(session, klass.id)
    return render(
        request,
        "training/class.html",
        {
            **_labels(),
            "klass": klass,
            "institution": institution,
            "can_run": can_run,
            "trainees": api.trainees_out(session, klass, present),
            "register_day": register_day,
            "present_today": {t for t, ds in present.items() if register_day in ds},
            "days": days,
            "funding": service.funding_of(session, klass),
            "checks": service.spot_checks_of(session, klass.id),
            "departments": organisations.organisations_with(
                session, principal, TrainingPerm.DEPARTMENT
            ),
            "today": today,
            "completion": request.query_params.get("completed"),
        },
    )


@router.post(
    "/training/classes/{class_id}/roster",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def import_roster(
    class_id: Id, session: DbSession, principal: LoggedIn, file: Annotated[UploadFile, File()]
) -> Response:
    service.import_roster(
        session, principal, class_id, files.read_upload(file.file), file.filename or "roster.xlsx"
    )
    return redirect(f"/training/classes/{class_id}#roster-h")


@router.post("/training/classes/{class_id}/attendance", dependencies=[CsrfChecked])
def attendance(class_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    day = _date(_field(form, "day"), "day")
    present = {_int(key[8:], "present") for key in form if key.startswith("present_")}
    service.record_attendance(session, principal, class_id, day, present)
    return redirect(f"/training/classes/{class_id}?day={day.isoformat()}#attendance-h")


@router.post("/training/classes/{class_id}/assessment", dependencies=[CsrfChecked])
def assessment(class_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    scores = {
        _int(key[6:], "score"): _int(_field(form, key), key)
        for key in form
        if key.startswith("score_") and _field(form, key).strip()
    }
    service.record_assessment(session, principal, class_id, scores)
    return redirect(f"/training/classes/{class_id}#assessment-h")


@router.post("/training/classes/{class_id}/complete", dependencies=[CsrfChecked])
def complete_class(class_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    result = service.complete_class(session, principal, class_id)
    return redirect(f"/training/classes/{class_id}?completed={result.completed}")


@router.post("/training/classes/{class_id}/expenses", dependencies=[CsrfChecked])
def expense(class_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    if _field(form, "reverse"):
        service.reverse_expense(
            session,
            principal,
            class_id,
            _int(_field(form, "reverse"), "reverse"),
            _field(form, "note"),
        )
    else:
        try:
            fen = round(float(_field(form, "amount_yuan")) * 100)
        except ValueError:
            raise InvalidInput(N_("The amount is in yuan, like 1200 or 1200.50")) from None
        service.record_expense(
            session, principal, class_id, item=_field(form, "item"), amount_fen=fen,
            note=_field(form, "note"),
        )  # fmt: skip
    return redirect(f"/training/classes/{class_id}#funding-h")


@router.post("/training/classes/{class_id}/spot-checks", dependencies=[CsrfChecked])
def spot_check(class_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    department = organisations.get_organisation_for(
        session, principal, _int(_field(form, "department_id"), "department"),
        TrainingPerm.DEPARTMENT,
    )  # fmt: skip
    service.spot_check(
        session,
        principal,
        class_id,
        department,
        checked_on=_date(_field(form, "checked_on"), "checked_on"),
        present_count=_int(_field(form, "present_count"), "present_count"),
        finding=_field(form, "finding"),
        note=_field(form, "note"),
    )
    return redirect(f"/training/classes/{class_id}#checks-h")


# --- departments and dashboards ---------------------------------------------------------------


def _department(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.DEPARTMENT
    )


@router.get("/training/departments/{organisation_id}", response_class=HTMLResponse)
def department_page(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    department = _department(session, principal, organisation_id)
    accreditations = service.accreditations_by(session, department.id)
    classes = [
        (klass, name)
        for accreditation, name in accreditations
        for klass in service.classes_of(session, accreditation.institution_organisation_id)
    ]
    return render(
        request,
        "training/department.html",
        {
            **_labels(),
            "department": department,
            "accreditations": accreditations,
            "classes": classes,
            "programmes": [
                p for p in targets.programmes(session) if p.organisation_id == department.id
            ],
            "today": local_today(),
        },
    )


@router.post("/training/departments/{organisation_id}/accreditations", dependencies=[CsrfChecked])
def accredit(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    department = _department(session, principal, organisation_id)
    institution = organisations.get_organisation(
        session, _int(_field(form, "institution_id"), "institution_id")
    )
    service.accredit(
        session,
        principal,
        department,
        institution,
        accreditation_no=_field(form, "accreditation_no"),
        valid_until=_date(_field(form, "valid_until"), "valid_until"),
        note=_field(form, "note"),
    )
    return redirect(f"/training/departments/{organisation_id}")


@router.post("/training/departments/{organisation_id}/programmes", dependencies=[CsrfChecked])
def create_programme(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    department = _department(session, principal, organisation_id)
    programme = targets.create_programme(
        session,
        principal,
        department,
        code=_field(form, "code"),
        name=_field(form, "name"),
        start_year=_int(_field(form, "start_year"), "start_year"),
        end_year=_int(_field(form, "end_year"), "end_year"),
    )
    return redirect(f"/training/programmes/{programme.id}")


@router.get("/training/programmes/{programme_id}", response_class=HTMLResponse)
def programme_page(
    request: Request,
    programme_id: Id,
    session: DbSession,
    principal: LoggedIn,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    programme = targets.get_programme_for(session, principal, programme_id)
    report = targets.progress(session, programme, year)
    return render(
        request,
        "training/programme.html",
        {
            "programme": programme,
            "report": report,
            "chart_data": report.chart_data(),
            "years": list(range(programme.start_year, programme.end_year + 1)),
        },
    )


@router.get("/training/programmes/{programme_id}/report.xlsx")
def programme_report(
    programme_id: Id,
    session: DbSession,
    principal: LoggedIn,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    programme = targets.get_programme_for(session, principal, programme_id)
    report = targets.progress(session, programme, year)
    return xlsx_response(
        targets.progress_workbook(report), f"progress-{programme.code}-{report.year}"
    )


@router.post("/training/programmes/{programme_id}/targets", dependencies=[CsrfChecked])
def set_targets(
    programme_id: Id,
    session: DbSession,
    principal: LoggedIn,
    rows: Annotated[str, Form(max_length=50_000)],
) -> Response:
    """Lines pasted from Excel: province code, year, offline|online, cumulative plan."""
    parsed = []
    for number, line in enumerate(rows.splitlines(), start=1):
        cells = [c.strip() for c in line.replace("\t", ",").replace("，", ",").split(",")]
        if not any(cells):
            continue
        if len(cells) != 4:
            raise InvalidInput(
                N_("Line %(line)s: write province code, year, offline or online, planned total"),
                line=number,
            )
        parsed.append(
            targets.TargetInput(
                cells[0],
                _int(cells[1], f"line {number}"),
                cells[2],
                _int(cells[3], f"line {number}"),
            )
        )
    targets.set_targets(session, principal, programme_id, parsed)
    return redirect(f"/training/programmes/{programme_id}")


# --- public quiz campaigns --------------------------------------------------------------------


def _participant_key(request: Request, principal: Principal) -> str | None:
    if principal.person_id:
        return quiz.person_key(principal.person_id)
    return quiz.guest_key(request.cookies.get(GUEST_COOKIE, ""))


def _owned_attempt(
    request: Request, principal: Principal, session: Session, attempt_id: int
) -> Any:
    key = _participant_key(request, principal)
    if key is None:
        raise NotFound()
    return quiz.get_attempt_for(session, attempt_id, key)


@router.get("/quiz", response_class=HTMLResponse)
def campaigns(request: Request, session: DbSession) -> HTMLResponse:
    return render(request, "training/quiz_list.html", {"campaigns": quiz.public_campaigns(session)})


@router.get("/quiz/{slug}", response_class=HTMLResponse)
def campaign_page(
    request: Request, slug: str, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    campaign = quiz.campaign_by_slug(session, slug)
    if campaign.audience != QuizAudience.public:
        raise NotFound()
    key = _participant_key(request, principal)
    return render(
        request,
        "training/campaign.html",
        {
            "campaign": campaign,
            "summary": api.campaign_out(session, campaign),
            "scoring": quiz.scoring_text(campaign),
            "board": api.leaderboard_out(session, campaign, key),
            "regions": quiz.ranking_regions(session, campaign) if not principal.person_id else [],
            "running": quiz.is_running(campaign),
        },
    )


@router.get("/quiz/{slug}/leaderboard", response_class=HTMLResponse)
def leaderboard_fragment(
    request: Request, slug: str, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    campaign = quiz.campaign_by_slug(session, slug)
    key = _participant_key(request, principal)
    return render(
        request,
        "training/_leaderboard.html",
        {"campaign": campaign, "board": api.leaderboard_out(session, campaign, key)},
    )


@router.post("/quiz/{slug}/start", dependencies=[CsrfChecked])
def start(
    request: Request,
    slug: str,
    session: DbSession,
    principal: CurrentPrincipal,
    nickname: Annotated[str, Form(max_length=40)] = "",
    region_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    campaign = quiz.campaign_by_slug(session, slug)
    token = request.cookies.get(GUEST_COOKIE, "")
    new_token = None
    if principal.person_id:
        participant = quiz.participant_for_person(session, principal, nickname)
    else:
        if not token:
            token = new_token = quiz.new_guest_token()
        participant = quiz.participant_for_guest(
            session, token, nickname, _optional_int(region_id, "region_id")
        )
    attempt = quiz.start_attempt(session, campaign, participant)
    response = redirect(f"/quiz/attempts/{attempt.id}")
    if new_token:
        response.set_cookie(
            GUEST_COOKIE,
            new_token,
            max_age=365 * 86_400,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(request),
        )
    return response


@router.get("/quiz/attempts/{attempt_id}", response_class=HTMLResponse)
def attempt_page(
    request: Request, attempt_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Response:
    attempt = _owned_attempt(request, principal, session, attempt_id)
    if attempt.status == AttemptStatus.submitted:
        return redirect(f"/quiz/attempts/{attempt.id}/result")
    campaign = session.get(QuizCampaign, attempt.campaign_id)
    assert campaign is not None
    remaining = max(0, int((attempt.deadline_at - utcnow()).total_seconds()))
    return render(
        request,
        "training/attempt.html",
        {
            "attempt": attempt,
            "campaign": campaign,
            "questions": quiz.paper_of(session, attempt),
            "remaining": remaining,
            "expired": attempt.status == AttemptStatus.expired or remaining <= 0,
            # One key per rendered paper: a double tap or a resend scores once.
            "submission_key": secrets.token_urlsafe(16),
        },
    )


@router.post("/quiz/attempts/{attempt_id}", dependencies=[CsrfChecked])
def submit(
    request: Request,
    attempt_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    form: FormFields,
) -> Response:
    attempt = _owned_attempt(request, principal, session, attempt_id)
    answers = []
    for number in range(attempt.question_count):
        chosen = [v for v in form.getlist(f"q{number}") if isinstance(v, str)]
        answers.append([_int(value, f"q{number}") for value in chosen])
    quiz.submit_attempt(
        session, attempt.id, attempt.participant_key, _field(form, "submission_key"), answers
    )
    return redirect(f"/quiz/attempts/{attempt.id}/result")


@router.get("/quiz/attempts/{attempt_id}/result", response_class=HTMLResponse)
def result_page(
    request: Request, attempt_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Response:
    attempt = _owned_attempt(request, principal, session, attempt_id)
    if attempt.status != AttemptStatus.submitted:
        return redirect(f"/quiz/attempts/{attempt.id}")
    campaign = session.get(QuizCampaign, attempt.campaign_id)
    assert campaign is not None
    course = None
    if campaign.audience == QuizAudience.course:
        course = session.scalar(select(Course).where(Course.quiz_campaign_id == campaign.id))
    share = f"{str(request.base_url).rstrip('/')}/quiz/results/{attempt.share_code}"
    return render(
        request,
        "training/result.html",
        {
            "attempt": attempt,
            "campaign": campaign,
            "course": course,
            "questions": quiz.paper_of(session, attempt),
            "standing": quiz.standing_of(session, campaign.id, attempt.participant_key),
            "share_url": share,
            "share_qr": qr_svg(share, 160),
            "passed": attempt.correct_count * 100 >= campaign.pass_percent * attempt.question_count,
        },
    )


@router.get("/quiz/results/{code}", response_class=HTMLResponse)
def shared_result(request: Request, code: str, session: DbSession) -> HTMLResponse:
    attempt = quiz.attempt_by_share_code(session, code)
    campaign = session.get(QuizCampaign, attempt.campaign_id)
    assert campaign is not None
    return render(
        request,
        "training/shared_result.html",
        {
            "attempt": attempt,
            "campaign": campaign,
            "standing": quiz.standing_of(session, campaign.id, attempt.participant_key),
        },
    )
