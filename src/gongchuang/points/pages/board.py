"""The public notice (公示) board, its printed copy, and objections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.web import CsrfChecked, CurrentPrincipal, DbSession, Id, LoggedIn, site_url
from gongchuang.points import reports, service
from gongchuang.points.pages._common import V, _back_to, _page, _village
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import ObjectionDecisionIn, ReasonIn, parse

router = APIRouter(include_in_schema=False)


@router.get(V + "/board", response_class=HTMLResponse)
def board(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(max_length=50)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    village = service.village_for_the_public(session, village_id)
    full_names = service.sees_full_names(session, principal, village)
    return _page(
        request,
        "points/board.html",
        session,
        principal,
        village,
        board=service.notice_board(session, village, search=q, page=page, full_names=full_names),
        full_names=full_names,
        q=q.strip(),
        query={"q": q.strip()} if q.strip() else {},
        past=[n for n in service.notices(session, village, 20) if n.closes_at <= utcnow()],
        objected=request.query_params.get("objected"),
    )


@router.get(V + "/notices/{notice_id}.pdf")
def notice_pdf(
    village_id: Id,
    notice_id: Id,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
) -> Response:
    village = service.village_for_the_public(session, village_id)
    notice = service.get_notice(session, village, notice_id)
    records = service.notice_records(session, notice)
    base_url = site_url(request)
    full_names = service.sees_full_names(session, principal, village)
    names = None if full_names else service.shown_names(session, records, full_names=False)
    data = reports.notice_pdf(session, village, notice, records, base_url=base_url, names=names)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="notice-{notice.number}.pdf"'},
    )


@router.post(V + "/records/{record_id}/objections", dependencies=[CsrfChecked])
def object_to(
    village_id: Id,
    record_id: Id,
    session: DbSession,
    principal: LoggedIn,
    reason: Annotated[str, Form()],
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    service.raise_objection(
        session, principal, village, record, parse(ReasonIn, {"reason": reason})
    )
    return _back_to(village, "board?objected=1")


@router.get(V + "/objections", response_class=HTMLResponse)
def objection_list(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.VIEW)
    rows = service.objections(session, village)
    records = {o.record_id: service.get_record(session, village, o.record_id) for o in rows}
    return _page(
        request,
        "points/objections.html",
        session,
        principal,
        village,
        objections=rows,
        records=records,
        names=service.person_names(session, [o.objector_person_id for o in rows]),
    )


@router.post(V + "/objections/{objection_id}/decision", dependencies=[CsrfChecked])
def decide_objection(
    village_id: Id,
    objection_id: Id,
    session: DbSession,
    principal: LoggedIn,
    outcome: Annotated[str, Form(pattern="^(uphold|dismiss)$")],
    answer: Annotated[str, Form()],
    adjusted_points: Annotated[str, Form(max_length=6)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    objection = service.get_objection(session, village, objection_id)
    try:
        points = int(adjusted_points) if adjusted_points.strip() else None
    except ValueError:
        raise InvalidInput(N_("Adjusted points must be a whole number")) from None
    command = parse(
        ObjectionDecisionIn,
        {"uphold": outcome == "uphold", "answer": answer, "adjusted_points": points},
        names={"uphold": "outcome"},
    )
    service.decide_objection(session, principal, village, objection, command)
    return _back_to(village, "objections")
