"""Publishers' pages: courses and lessons, question banks and quiz campaigns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from gongchuang.core import files
from gongchuang.core.forms import (
    parse_form,
    whole_number,
)
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render
from gongchuang.training import quiz, service, targets
from gongchuang.training.models import LessonKind, QuizCampaign
from gongchuang.training.pages._common import (
    CAMPAIGN_FORM_FIELDS,
    form_values,
    labels,
    publisher_org,
    text_field,
)
from gongchuang.training.schemas import (
    BankIn,
    CampaignIn,
    CourseFields,
    CourseQuizIn,
    CourseStatusIn,
    LessonIn,
)

router = APIRouter(include_in_schema=False)


@router.get("/training/manage/{organisation_id}", response_class=HTMLResponse)
def manage(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = publisher_org(session, principal, organisation_id)
    return render(
        request,
        "training/manage.html",
        {
            **labels(),
            "organisation": organisation,
            "courses": service.courses_of(session, organisation.id),
            "banks": quiz.banks_of(session, organisation.id),
            "campaigns": quiz.campaigns_of(session, organisation.id),
            "programmes": targets.programmes(session),
        },
    )


@router.post("/training/manage/{organisation_id}/courses", dependencies=[CsrfChecked])
def create_course(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    organisation = publisher_org(session, principal, organisation_id)
    course = service.create_course(session, principal, organisation, parse_form(CourseFields, form))
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
            **labels(),
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
    service.update_course(session, principal, course_id, parse_form(CourseFields, form))
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
    command = parse_form(
        LessonIn,
        {
            "title": title,
            "kind": kind,
            "body": body,
            "transcript": transcript,
            "duration_seconds": 60 * whole_number(minutes, "minutes", default=0),
        },
        {"duration_seconds": "minutes"},
    )
    stored = None
    if file is not None and file.filename:
        stored = files.save_upload(
            session,
            principal,
            filename=file.filename,
            data=files.read_upload(file.file),
            accepted=service.LESSON_FILE_TYPES.get(LessonKind(command.kind), files.ACCEPTED_TYPES),
        )
    service.add_lesson(session, principal, course_id, command, stored)
    return redirect(f"/training/manage/courses/{course_id}")


@router.post("/training/manage/courses/{course_id}/status", dependencies=[CsrfChecked])
def course_status(
    course_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(CourseStatusIn, form)
    service.set_course_status(session, principal, course_id, command.status)
    return redirect(f"/training/manage/courses/{course_id}")


@router.post("/training/manage/courses/{course_id}/quiz", dependencies=[CsrfChecked])
def course_quiz_settings(
    course_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(CourseQuizIn, form)
    quiz.set_course_quiz(session, principal, course_id, **command.model_dump())
    return redirect(f"/training/manage/courses/{course_id}")


@router.post("/training/manage/{organisation_id}/banks", dependencies=[CsrfChecked])
def create_bank(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    organisation = publisher_org(session, principal, organisation_id)
    command = parse_form(BankIn, {**form, "organisation_id": organisation.id})
    bank = quiz.create_bank(session, principal, organisation, command.name, command.description)
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
            **labels(),
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
    organisation = publisher_org(session, principal, organisation_id)
    minutes = whole_number(text_field(form, "minutes"), "minutes", default=10)
    command = parse_form(
        CampaignIn,
        {
            **form_values(form, "slug", "title", "description"),
            "organisation_id": organisation.id,
            "pools": [form_values(form, "bank_id", "tag", "count")],
            "time_limit_seconds": 60 * minutes,
            "daily_attempt_limit": text_field(form, "daily"),
            "points_for_completing": text_field(form, "points_completing"),
            "points_per_correct": text_field(form, "points_correct"),
            "points_for_all_correct": text_field(form, "points_all"),
            "allow_guests": text_field(form, "allow_guests") == "true",
        },
        CAMPAIGN_FORM_FIELDS,
    )
    campaign = quiz.publish_campaign(session, principal, organisation, command)
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
