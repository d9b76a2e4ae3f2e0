"""Departments' pages: accreditation, programmes, yearly targets and progress dashboards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gongchuang.core.clock import local_today
from gongchuang.core.errors import InvalidInput
from gongchuang.core.forms import (
    parse_form,
)
from gongchuang.core.i18n import N_
from gongchuang.core.pages import xlsx_response
from gongchuang.core.permissions import Principal
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render
from gongchuang.training import service, targets
from gongchuang.training.models import Programme
from gongchuang.training.pages._common import (
    department_org,
    labels,
    parse_renamed_form,
)
from gongchuang.training.schemas import AccreditationIn, ProgrammeIn, TargetIn, TargetsIn

router = APIRouter(include_in_schema=False)
# The columns of a pasted line of targets, in order.
TARGET_COLUMNS = ("region_code", "year", "mode", "cumulative_planned")
# The year a programme's progress is shown for (its current one when not given).
ProgrammeYear = Annotated[int | None, Query(ge=2000, le=2100)]


@router.get("/training/departments/{organisation_id}", response_class=HTMLResponse)
def department_page(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    department = department_org(session, principal, organisation_id)
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
            **labels(),
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
    command = parse_renamed_form(
        AccreditationIn, form, institution_organisation_id="institution_id"
    )
    service.accredit_institution(session, principal, organisation_id, command)
    return redirect(f"/training/departments/{organisation_id}")


@router.post("/training/departments/{organisation_id}/programmes", dependencies=[CsrfChecked])
def create_programme(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    department = department_org(session, principal, organisation_id)
    command = parse_form(ProgrammeIn, form)
    programme = targets.create_programme(session, principal, department, **command.model_dump())
    return redirect(f"/training/programmes/{programme.id}")


def _programme_progress(
    session: Session, principal: Principal, programme_id: int, year: int | None
) -> tuple[Programme, targets.Progress]:
    """The programme its department's staff asked for, and its progress in `year`."""
    programme = targets.get_programme_for(session, principal, programme_id)
    return programme, targets.progress(session, programme, year)


@router.get("/training/programmes/{programme_id}", response_class=HTMLResponse)
def programme_page(
    request: Request,
    programme_id: Id,
    session: DbSession,
    principal: LoggedIn,
    year: ProgrammeYear = None,
) -> HTMLResponse:
    programme, report = _programme_progress(session, principal, programme_id, year)
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
    year: ProgrammeYear = None,
) -> Response:
    programme, report = _programme_progress(session, principal, programme_id, year)
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
    targets.set_targets(session, principal, programme_id, _targets_from_lines(rows))
    return redirect(f"/training/programmes/{programme_id}")


def _targets_from_lines(rows: str) -> TargetsIn:
    """The pasted lines read into the command the API takes; a line that does not read is
    refused with its number."""
    parsed: list[TargetIn] = []
    for number, line in enumerate(rows.splitlines(), start=1):
        cells = [c.strip() for c in line.replace("\t", ",").replace("，", ",").split(",")]
        if not any(cells):
            continue
        try:
            if len(cells) != 4:
                raise InvalidInput(errors=[{"field": "rows", "message": N_("This is not valid.")}])
            parsed.append(parse_form(TargetIn, dict(zip(TARGET_COLUMNS, cells, strict=True))))
        except InvalidInput as exc:
            raise InvalidInput(
                N_("Line %(line)s: write province code, year, offline or online, planned total"),
                line=number,
                errors=[{**e, "field": "rows"} for e in exc.errors],
            ) from None
    return parse_form(TargetsIn, {"targets": parsed}, {"targets": "rows"})
