"""Records and their approval, evidence, corrections and exports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongchuang.core.clock import utcnow
from gongchuang.core.i18n import gettext
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.pages import xlsx_response
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn
from gongchuang.points import reports, service
from gongchuang.points.models import PointRecord, RecordStatus
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
from gongchuang.points.schemas import DECISION_REFUSED, DecisionIn, ReasonIn, ResubmitIn, parse

router = APIRouter(include_in_schema=False)


@router.get(V + "/records", response_class=HTMLResponse)
def record_list(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    village, context = _village_context(session, principal, village_id)
    query = service.visible_records(session, principal, village, status=status)
    records = list(session.scalars(query.order_by(PointRecord.id.desc()).limit(300)).unique())
    return _render(
        request,
        "points/records.html",
        context,
        records=records,
        status=status or "",
        statuses=list(RecordStatus),
    )


@router.get(V + "/records/{record_id}", response_class=HTMLResponse)
def record_page(
    village_id: Id, record_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village, context = _village_context(session, principal, village_id)
    record = service.get_record_for(session, principal, village, record_id)
    catalogue = context["catalogue"]
    may_decide = (
        record.status == RecordStatus.pending
        and service.approval_role(catalogue, record.approval_step) in context["my_roles"]
        and principal.person_id not in (record.person_id, record.reported_by_person_id)
    )
    notice = service.get_notice(session, village, record.notice_id) if record.notice_id else None
    return _render(
        request,
        "points/record.html",
        context,
        record=record,
        approvals=service.approvals_of(session, record),
        objections=service.objections_of(session, record),
        notice=notice,
        notice_open=notice is not None
        and record.status == RecordStatus.in_notice
        and service.notice_window(notice, utcnow()),
        may_decide=may_decide,
        step_role=service.approval_role(catalogue, record.approval_step),
        submitted=request.query_params.get("submitted"),
    )


@router.get(V + "/records/{record_id}/evidence")
def evidence(
    village_id: Id,
    record_id: Id,
    session: DbSession,
    principal: LoggedIn,
    size: Annotated[Literal["full", "thumbnail"], Query()] = "full",
) -> Response:
    village = _village(session, principal, village_id)
    content_type, data = service.evidence_for(
        session, principal, village, record_id, thumbnail=size == "thumbnail"
    )
    return Response(
        data,
        media_type=content_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )


@router.post(V + "/records/{record_id}/decision", dependencies=[CsrfChecked])
def decide(
    village_id: Id,
    record_id: Id,
    session: DbSession,
    principal: LoggedIn,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    command = parse(DecisionIn, {"decision": decision, "reason": reason}, DECISION_REFUSED)
    village = _village(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    service.decide(session, principal, village, record, command)
    return _back_to(village, "approvals")


@router.get(V + "/approvals", response_class=HTMLResponse)
def approvals(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    return _page(
        request,
        "points/approvals.html",
        session,
        principal,
        village,
        queue=service.approval_queue(session, principal, village),
        approved=request.query_params.get("approved"),
    )


@router.post(V + "/approvals", dependencies=[CsrfChecked])
def approve_selected(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    record_ids: Annotated[list[int], Form()],
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    count = service.approve_many(session, principal, village, list(dict.fromkeys(record_ids)))
    return _back_to(village, f"approvals?approved={count}")


@router.post(
    V + "/records/{record_id}/resubmit", dependencies=[CsrfChecked], max_body_size=UPLOAD_BODY_BYTES
)
def resubmit(
    village_id: Id,
    record_id: Id,
    session: DbSession,
    principal: LoggedIn,
    note: Annotated[str, Form()] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> RedirectResponse:
    command = parse(ResubmitIn, {"note": note})
    village = _village(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    data = _read_upload(photo)
    if data and photo:
        evidence = service.save_evidence(session, principal, photo.filename or "photo", data)
        command = command.model_copy(update={"evidence_file_id": evidence.id})
    service.resubmit(session, principal, village, record, command)
    return _back_to(village, f"records/{record.id}")


@router.post(V + "/records/{record_id}/reverse", dependencies=[CsrfChecked])
def reverse(
    village_id: Id,
    record_id: Id,
    session: DbSession,
    principal: LoggedIn,
    reason: Annotated[str, Form()],
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    record = service.get_record(session, village, record_id)
    service.reverse_record(session, principal, village, record, parse(ReasonIn, {"reason": reason}))
    return _back_to(village, f"records/{record.id}")


@router.get(V + "/records.xlsx")
def export_records(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    village = _village(session, principal, village_id, PointsPerm.VIEW)
    year = year or service.today_local().year
    return xlsx_response(
        reports.records_workbook(session, village, year),
        f"{village.name}-{gettext('Points records')}-{year}.xlsx",
    )


@router.get(V + "/balances.xlsx")
def export_balances(village_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    village = _village(session, principal, village_id, PointsPerm.VIEW)
    return xlsx_response(
        reports.balances_workbook(session, village), f"{village.name}-{gettext('Balances')}.xlsx"
    )
