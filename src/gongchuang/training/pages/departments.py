"""Departments' pages: accreditation, programmes, yearly targets and progress dashboards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from gongchuang.core.clock import local_today
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.pages import xlsx_response
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render
from gongchuang.training import service, targets
from gongchuang.training.pages._common import (
    department_org,
    labels,
    parse_form,
    text_field,
    whole_number,
)
from gongchuang.training.schemas import AccreditationIn, ProgrammeIn

router = APIRouter(include_in_schema=False)


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
    command = parse_form(
        AccreditationIn,
        {**form, "institution_organisation_id": text_field(form, "institution_id")},
        {"institution_organisation_id": "institution_id"},
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
                whole_number(cells[1], f"line {number}"),
                cells[2],
                whole_number(cells[3], f"line {number}"),
            )
        )
    targets.set_targets(session, principal, programme_id, parsed)
    return redirect(f"/training/programmes/{programme_id}")
