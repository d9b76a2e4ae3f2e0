"""Reporting points: one record, a meeting's batch, or a sheet."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gongchuang.core import organisations, spreadsheets
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import Organisation
from gongchuang.core.pages import xlsx_response
from gongchuang.core.permissions import Principal
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn
from gongchuang.points import service
from gongchuang.points.pages._common import (
    V,
    _back_to,
    _page,
    _read_upload,
    _render,
    _village,
    _village_context,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import BatchIn, RecordIn, parse

router = APIRouter(include_in_schema=False)


def _reportable_rules(session: Session, principal: Principal, village: Organisation) -> list[Any]:
    catalogue = service.get_catalogue(session, village)
    roles = service.roles_in(session, principal.person_id, village.id)
    official = bool(roles & service.OFFICIAL_ROLES)
    return [
        r
        for r in service.current_rules(session, catalogue)
        if "self" in r.reporters or (official and set(r.reporters) & roles)
    ]


@router.get(V + "/report", response_class=HTMLResponse)
def report_form(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village, context = _village_context(session, principal, village_id)
    if not context["is_member"]:
        raise NotFound()
    members = organisations.list_members(session, village, None) if context["can_record"] else []
    return _render(
        request,
        "points/report.html",
        context,
        rules=_reportable_rules(session, principal, village),
        members=members,
        today=service.today_local().isoformat(),
    )


@router.post(V + "/report", dependencies=[CsrfChecked], max_body_size=UPLOAD_BODY_BYTES)
def report_submit(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    rule_code: Annotated[str, Form()],
    occurred_on: Annotated[date, Form()],
    note: Annotated[str, Form()] = "",
    person_id: Annotated[int | None, Form()] = None,
    on_behalf: Annotated[bool, Form()] = False,
    photo: Annotated[UploadFile | None, File()] = None,
) -> RedirectResponse:
    command = parse(
        RecordIn,
        {
            "rule_code": rule_code,
            "person_id": person_id,
            "occurred_on": occurred_on,
            "note": note,
            "on_behalf": on_behalf,
        },
    )
    village = _village(session, principal, village_id)
    data = _read_upload(photo)
    if data and photo:
        evidence = service.save_evidence(session, principal, photo.filename or "photo", data)
        command = command.model_copy(update={"evidence_file_id": evidence.id})
    record = service.submit_record(session, principal, village, command)
    return _back_to(village, f"records/{record.id}?submitted=1")


@router.get(V + "/batch", response_class=HTMLResponse)
def batch_form(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.RECORD)
    return _page(
        request,
        "points/batch.html",
        session,
        principal,
        village,
        rules=_reportable_rules(session, principal, village),
        members=organisations.list_members(session, village, None),
        today=service.today_local().isoformat(),
        created=request.query_params.get("created"),
    )


@router.post(V + "/batch", dependencies=[CsrfChecked])
def batch_submit(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    rule_code: Annotated[str, Form()],
    occurred_on: Annotated[date, Form()],
    person_ids: Annotated[list[int], Form()],
    note: Annotated[str, Form()] = "",
) -> RedirectResponse:
    command = parse(
        BatchIn,
        {
            "rule_code": rule_code,
            "occurred_on": occurred_on,
            "person_ids": person_ids,
            "note": note,
        },
    )
    village = _village(session, principal, village_id, PointsPerm.RECORD)
    records = service.record_batch(session, principal, village, command)
    return _back_to(village, f"batch?created={len(records)}")


@router.post(V + "/import", dependencies=[CsrfChecked], max_body_size=UPLOAD_BODY_BYTES)
def import_submit(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    file: Annotated[UploadFile, File()],
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.RECORD)
    data = _read_upload(file)
    if data is None:
        raise InvalidInput(N_("The file is empty"))
    records = service.import_records(session, principal, village, data, file.filename or "")
    return _back_to(village, f"batch?created={len(records)}")


@router.get(V + "/import-template.xlsx")
def import_template(village_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    village = _village(session, principal, village_id, PointsPerm.RECORD)
    rules = service.current_rules(session, service.get_catalogue(session, village))
    example = rules[0].code if rules else "GY02"
    data = spreadsheets.workbook_bytes(
        [gettext("Phone"), gettext("Rule code"), gettext("Date"), gettext("Note")],
        [
            [
                "13900000000",
                example,
                service.today_local().isoformat(),
                gettext("Villagers' meeting"),
            ]
        ],
        gettext("Points records"),
    )
    return xlsx_response(data, "points-import-template.xlsx")
