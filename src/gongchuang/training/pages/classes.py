"""Institutions' pages: classes, their roster, attendance, assessment, completion, funding
and the spot checks departments record there."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from gongchuang.core import files, money, organisations
from gongchuang.core.clock import local_today
from gongchuang.core.forms import (
    parse_form,
    whole_number,
)
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render
from gongchuang.training import service, targets
from gongchuang.training.pages._common import (
    date_value,
    institution_org,
    labels,
    parse_renamed_form,
    text_field,
)
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.schemas import (
    AssessmentIn,
    AttendanceIn,
    ClassIn,
    ExpenseIn,
    SpotCheckIn,
)
from gongchuang.training.service.views import trainees_out

router = APIRouter(include_in_schema=False)


@router.get("/training/institutions/{organisation_id}", response_class=HTMLResponse)
def institution_page(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    institution, can_manage = service.institution_to_view(session, principal, organisation_id)
    return render(
        request,
        "training/institution.html",
        {
            **labels(),
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
    institution = institution_org(session, principal, organisation_id)
    command = parse_form(
        ClassIn,
        {
            **form,
            "funding_per_trainee_fen": money.yuan_to_fen(
                text_field(form, "funding_yuan").strip() or "0", "funding_yuan", allow_zero=True
            ),
        },
        {"funding_per_trainee_fen": "funding_yuan"},
    )
    klass = service.create_class(session, principal, institution, command)
    return redirect(f"/training/classes/{klass.id}")


@router.get("/training/classes/{class_id}", response_class=HTMLResponse)
def class_page(
    request: Request,
    class_id: Id,
    session: DbSession,
    principal: LoggedIn,
    day: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    klass, institution, can_run = service.class_to_view(session, principal, class_id)
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
            **labels(),
            "klass": klass,
            "institution": institution,
            "can_run": can_run,
            "trainees": trainees_out(session, klass, present),
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
    day = date_value(text_field(form, "day"), "day")
    present = [whole_number(key[8:], "present") for key in form if key.startswith("present_")]
    command = parse_form(AttendanceIn, {"present": present})
    service.record_attendance(session, principal, class_id, day, set(command.present))
    return redirect(f"/training/classes/{class_id}?day={day.isoformat()}#attendance-h")


@router.post("/training/classes/{class_id}/assessment", dependencies=[CsrfChecked])
def assessment(class_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    typed = [key for key in form if key.startswith("score_") and text_field(form, key).strip()]
    command = parse_form(
        AssessmentIn,
        {
            "scores": [
                {"trainee_id": whole_number(key[6:], "score"), "score": text_field(form, key)}
                for key in typed
            ]
        },
        {
            f"scores.{index}.{name}": key
            for index, key in enumerate(typed)
            for name in ("trainee_id", "score")
        },
    )
    service.record_assessment(session, principal, class_id, command)
    return redirect(f"/training/classes/{class_id}#assessment-h")


@router.post("/training/classes/{class_id}/complete", dependencies=[CsrfChecked])
def complete_class(class_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    result = service.complete_class(session, principal, class_id)
    return redirect(f"/training/classes/{class_id}?completed={result.completed}")


@router.post("/training/classes/{class_id}/expenses", dependencies=[CsrfChecked])
def expense(class_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    if text_field(form, "reverse"):
        service.reverse_expense(
            session,
            principal,
            class_id,
            whole_number(text_field(form, "reverse"), "reverse"),
            text_field(form, "note"),
        )
    else:
        fen = money.yuan_to_fen(text_field(form, "amount_yuan"), "amount_yuan")
        command = parse_form(ExpenseIn, {**form, "amount_fen": fen}, {"amount_fen": "amount_yuan"})
        service.record_expense(session, principal, class_id, **command.model_dump())
    return redirect(f"/training/classes/{class_id}#funding-h")


@router.post("/training/classes/{class_id}/spot-checks", dependencies=[CsrfChecked])
def spot_check(class_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    command = parse_renamed_form(SpotCheckIn, form, department_organisation_id="department_id")
    service.record_spot_check(session, principal, class_id, command)
    return redirect(f"/training/classes/{class_id}#checks-h")
