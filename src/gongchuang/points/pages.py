"""HTML pages of points governance. Routes parse, call the service, and render."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gongchuang.core import files, organisations, spreadsheets
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import Organisation
from gongchuang.core.pages import xlsx_response
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    Id,
    LoggedIn,
    redirect,
    render,
)
from gongchuang.points import reports, service, shop
from gongchuang.points.catalogue_templates import TEMPLATES
from gongchuang.points.models import (
    PointRecord,
    RecordStatus,
    RedemptionStatus,
)
from gongchuang.points.permissions import PointsPerm

router = APIRouter(include_in_schema=False)
V = "/points/villages/{village_id}"
PERIODS = service.PERIOD_LABELS
REPORTER_LABELS = {
    "self": N_("Villagers themselves"),
    "cadre": N_("Cadres"),
    "group_leader": N_("Group leaders"),
    "grid_worker": N_("Grid workers"),
}
# Who a pending record waits for, as villagers say it (never "level 1").
REVIEW_LABELS = {
    "group_leader": N_("awaiting the group leader's review"),
    "cadre": N_("awaiting the village cadres' review"),
    "grid_worker": N_("awaiting the grid worker's review"),
}
UNIT_LABELS = {"household": N_("By household"), "person": N_("By person")}
ENTRY_LABELS = {
    "settlement": N_("Settled record"),
    "reversal": N_("Reversal"),
    "base": N_("Base points"),
    "reset": N_("Period reset"),
    "redemption": N_("Redeemed"),
    "redemption_cancelled": N_("Redemption cancelled"),
}
REDEMPTION_LABELS = {
    "awaiting_handover": N_("Waiting for hand-over"),
    "handed_over": N_("Handed over"),
    "cancelled": N_("Cancelled"),
}
DECISION_LABELS = {
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "return": N_("Returned for more evidence"),
}


def _read_upload(upload: UploadFile | None) -> bytes | None:
    """An optional photo: nothing chosen reads as None."""
    if upload is None or not upload.filename:
        return None
    return files.read_upload(upload.file) or None


def _context(session: Session, principal: Principal, village: Organisation) -> dict[str, Any]:
    catalogue = service.find_catalogue(session, village)
    roles = service.roles_in(session, principal.person_id, village.id)
    account = (
        service.account_of_person(session, village, principal.person_id, create=False)
        if catalogue is not None and principal.person_id and roles
        else None
    )
    return {
        "village": village,
        "catalogue": catalogue,
        "my_roles": roles,
        "my_account": account,
        "is_member": bool(roles),
        "can_manage": service.can(session, principal, PointsPerm.MANAGE, village),
        "can_record": service.can(session, principal, PointsPerm.RECORD, village),
        "can_view_all": service.can(session, principal, PointsPerm.VIEW, village),
        "can_shop": service.can(session, principal, PointsPerm.SHOP, village),
        "status_labels": reports.STATUS_LABELS,
        "period_labels": PERIODS,
        "reporter_labels": REPORTER_LABELS,
        "review_labels": REVIEW_LABELS,
        "unit_labels": UNIT_LABELS,
        "decision_labels": DECISION_LABELS,
        "entry_labels": ENTRY_LABELS,
        "redemption_labels": REDEMPTION_LABELS,
    }


def _village(
    session: Session, principal: Principal, village_id: int, perm: str | None = None
) -> Organisation:
    return service.get_village_for(session, principal, village_id, perm)


def _page(
    request: Request,
    template: str,
    session: Session,
    principal: Principal,
    village: Organisation,
    **extra: Any,
) -> HTMLResponse:
    return render(request, template, {**_context(session, principal, village), **extra})


# --- index and village home -------------------------------------------------------------------


@router.get("/points", response_class=HTMLResponse)
def index(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    villages = service.villages_of(session, principal)
    managed = [
        m.organisation
        for m in organisations.memberships_of(session, principal.person_id or 0)
        if m.organisation.kind in service.VILLAGE_KINDS
        and service.find_catalogue(session, m.organisation) is None
        and service.can(session, principal, PointsPerm.MANAGE, m.organisation)
    ]
    return render(
        request,
        "points/index.html",
        {
            "villages": villages,
            "unconfigured": managed,
            "regions": reports.dashboard_regions(session, principal),
        },
    )


@router.get(V, response_class=HTMLResponse)
def village_home(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    context = _context(session, principal, village)
    if context["catalogue"] is None:
        if not context["can_manage"]:
            raise NotFound(N_("This village has not set up points governance yet"))
        return render(request, "points/setup.html", {**context, "templates": TEMPLATES})
    waiting = service.awaiting_me(session, principal, village)
    return render(
        request,
        "points/village.html",
        {
            **context,
            "waiting": len(waiting),
            "open_objections": len(service.objections(session, village, "open"))
            if context["can_manage"]
            else 0,
            "tier": reports.account_tier(session, context["catalogue"], context["my_account"])
            if context["my_account"]
            else "",
            "my_records": list(
                session.scalars(
                    service.records_query(village, person_id=principal.person_id)
                    .order_by(PointRecord.id.desc())
                    .limit(10)
                ).unique()
            ),
        },
    )


@router.post(V + "/setup", dependencies=[CsrfChecked])
def setup(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    template: Annotated[str, Form(max_length=32)],
    account_unit: Annotated[str, Form(max_length=16)] = "household",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    service.create_catalogue(
        session, principal, village, template_code=template, account_unit=account_unit
    )
    return redirect(f"/points/villages/{village.id}/manage")


# --- reporting --------------------------------------------------------------------------------


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
    village = _village(session, principal, village_id)
    context = _context(session, principal, village)
    if not context["is_member"]:
        raise NotFound()
    members = organisations.list_members(session, village, None) if context["can_record"] else []
    return render(
        request,
        "points/report.html",
        {
            **context,
            "rules": _reportable_rules(session, principal, village),
            "members": members,
            "today": service.today_local().isoformat(),
        },
    )


@router.post(V + "/report", dependencies=[CsrfChecked], max_body_size=UPLOAD_BODY_BYTES)
def report_submit(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    rule_code: Annotated[str, Form(max_length=32)],
    occurred_on: Annotated[date, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
    person_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    on_behalf: Annotated[bool, Form()] = False,
    photo: Annotated[UploadFile | None, File()] = None,
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    assert principal.person_id is not None
    data = _read_upload(photo)
    evidence = (
        service.save_evidence(session, principal, photo.filename or "photo", data)
        if data and photo
        else None
    )
    record = service.submit_record(
        session,
        principal,
        village,
        service.RecordRequest(
            rule_code=rule_code,
            person_id=person_id or principal.person_id,
            occurred_on=occurred_on,
            note=note,
            evidence_file_id=evidence.id if evidence else None,
            on_behalf=on_behalf,
        ),
    )
    return redirect(f"/points/villages/{village.id}/records/{record.id}?submitted=1")


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
    rule_code: Annotated[str, Form(max_length=32)],
    occurred_on: Annotated[date, Form()],
    person_ids: Annotated[list[int], Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.RECORD)
    records = service.record_batch(
        session,
        principal,
        village,
        [
            service.RecordRequest(rule_code, pid, occurred_on, note)
            for pid in dict.fromkeys(person_ids)
        ],
    )
    return redirect(f"/points/villages/{village.id}/batch?created={len(records)}")


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
    return redirect(f"/points/villages/{village.id}/batch?created={len(records)}")


@router.get(V + "/import-template.xlsx")
def import_template(village_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    village = _village(session, principal, village_id, PointsPerm.RECORD)
    rules = service.current_rules(session, service.get_catalogue(session, village))
    example = rules[0].code if rules else "GY02"
    data = spreadsheets.workbook_bytes(
        ["手机号", "规则编号", "日期", "备注"],
        [["13900000000", example, service.today_local().isoformat(), "村民大会"]],
        "积分记录",
    )
    return xlsx_response(data, "points-import-template.xlsx")


# --- records and approval ---------------------------------------------------------------------


@router.get(V + "/records", response_class=HTMLResponse)
def record_list(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    context = _context(session, principal, village)
    query = service.records_query(
        village,
        status=status or None,
        person_id=None if context["can_view_all"] else principal.person_id,
    )
    records = list(session.scalars(query.order_by(PointRecord.id.desc()).limit(300)).unique())
    return render(
        request,
        "points/records.html",
        {**context, "records": records, "status": status or "", "statuses": list(RecordStatus)},
    )


@router.get(V + "/records/{record_id}", response_class=HTMLResponse)
def record_page(
    village_id: Id, record_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    context = _context(session, principal, village)
    record = service.get_record_for(session, principal, village, record_id)
    catalogue = context["catalogue"]
    may_decide = (
        record.status == RecordStatus.pending
        and service.approval_role(catalogue, record.approval_step) in context["my_roles"]
        and principal.person_id not in (record.person_id, record.reported_by_person_id)
    )
    notice = service.get_notice(session, village, record.notice_id) if record.notice_id else None
    return render(
        request,
        "points/record.html",
        {
            **context,
            "record": record,
            "approvals": service.approvals_of(session, record),
            "objections": service.objections_of(session, record),
            "notice": notice,
            "notice_open": notice is not None
            and record.status == RecordStatus.in_notice
            and reports.notice_window(notice, utcnow()),
            "may_decide": may_decide,
            "step_role": service.approval_role(catalogue, record.approval_step),
            "submitted": request.query_params.get("submitted"),
        },
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
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    service.decide(session, principal, village, record, decision, reason)
    return redirect(f"/points/villages/{village.id}/approvals")


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
    return redirect(f"/points/villages/{village.id}/approvals?approved={count}")


@router.post(
    V + "/records/{record_id}/resubmit", dependencies=[CsrfChecked], max_body_size=UPLOAD_BODY_BYTES
)
def resubmit(
    village_id: Id,
    record_id: Id,
    session: DbSession,
    principal: LoggedIn,
    note: Annotated[str, Form(max_length=1000)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    data = _read_upload(photo)
    evidence = (
        service.save_evidence(session, principal, photo.filename or "photo", data)
        if data and photo
        else None
    )
    service.resubmit(
        session,
        principal,
        village,
        record,
        note=note,
        evidence_file_id=evidence.id if evidence else None,
    )
    return redirect(f"/points/villages/{village.id}/records/{record.id}")


@router.post(V + "/records/{record_id}/reverse", dependencies=[CsrfChecked])
def reverse(
    village_id: Id,
    record_id: Id,
    session: DbSession,
    principal: LoggedIn,
    reason: Annotated[str, Form(max_length=1000)],
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    record = service.get_record(session, village, record_id)
    service.reverse_record(session, principal, village, record, reason)
    return redirect(f"/points/villages/{village.id}/records/{record.id}")


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
        reports.records_workbook(session, village, year), f"{village.name}-积分记录-{year}.xlsx"
    )


@router.get(V + "/balances.xlsx")
def export_balances(village_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    village = _village(session, principal, village_id, PointsPerm.VIEW)
    return xlsx_response(
        reports.balances_workbook(session, village), f"{village.name}-积分余额.xlsx"
    )


# --- public board and objections --------------------------------------------------------------


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
    base_url = str(request.base_url).rstrip("/")
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
    reason: Annotated[str, Form(max_length=1000)],
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    service.raise_objection(session, principal, village, record, reason)
    return redirect(f"/points/villages/{village.id}/board?objected=1")


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
    answer: Annotated[str, Form(max_length=2000)],
    adjusted_points: Annotated[str, Form(max_length=6)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    objection = service.get_objection(session, village, objection_id)
    try:
        points = int(adjusted_points) if adjusted_points.strip() else None
    except ValueError:
        raise InvalidInput(N_("Adjusted points must be a whole number")) from None
    service.decide_objection(
        session,
        principal,
        village,
        objection,
        uphold=outcome == "uphold",
        answer=answer,
        adjusted_points=points,
    )
    return redirect(f"/points/villages/{village.id}/objections")


# --- rankings, accounts, dashboards -----------------------------------------------------------


@router.get(V + "/rankings", response_class=HTMLResponse)
def rankings(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    period: Annotated[str, Query(pattern="^(month|year)$")] = "month",
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    return _page(
        request,
        "points/rankings.html",
        session,
        principal,
        village,
        period=period,
        rows=reports.ranking(session, village, period, service.today_local()),
    )


@router.get(V + "/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    village_id: Id, account_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    account = service.get_account(session, village, account_id)
    if not (
        service.can_use_account(session, principal, account)
        or service.can(session, principal, PointsPerm.VIEW, village)
    ):
        raise NotFound()
    return _page(
        request,
        "points/account.html",
        session,
        principal,
        village,
        account=account,
        label=service.account_labels(session, [account]).get(account.id, ""),
        entries=service.ledger(session, account),
        redemptions=shop.redemptions(session, village, account_id=account.id, limit=50),
    )


@router.get(V + "/balances", response_class=HTMLResponse)
def balances(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.VIEW)
    return _page(
        request,
        "points/balances.html",
        session,
        principal,
        village,
        rows=reports.balances(session, village),
    )


@router.get(V + "/dashboard", response_class=HTMLResponse)
def village_dashboard(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    dashboard = reports.village_dashboard(session, village, year or service.today_local().year)
    return _page(
        request,
        "points/dashboard.html",
        session,
        principal,
        village,
        dashboard=dashboard,
        chart_data=dashboard.chart_data(),
        rollup=False,
    )


@router.get("/points/regions/{code}/dashboard", response_class=HTMLResponse)
def region_dashboard(
    code: Annotated[str, Path(pattern=r"^\d{6}(\d{6})?$")],
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    region = reports.get_region_for(session, principal, code)
    dashboard = reports.region_dashboard(session, region, year or service.today_local().year)
    return render(
        request,
        "points/dashboard.html",
        {
            "dashboard": dashboard,
            "chart_data": dashboard.chart_data(),
            "rollup": True,
            "region": region,
        },
    )


# --- shop -------------------------------------------------------------------------------------


@router.get(V + "/shop", response_class=HTMLResponse)
def shop_page(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    context = _context(session, principal, village)
    account = context["my_account"]
    return render(
        request,
        "points/shop.html",
        {
            **context,
            "items": shop.items(session, village, active_only=not context["can_manage"]),
            "max_quantity": shop.MAX_QUANTITY,
            "mine": shop.redemptions(session, village, account_id=account.id, limit=20)
            if account
            else [],
            "awaiting": shop.redemptions(
                session, village, status=RedemptionStatus.awaiting_handover
            )
            if context["can_shop"]
            else [],
            "labels": service.account_labels(session, service.accounts_by_id(session, village))
            if context["can_shop"]
            else {},
            "fund": shop.fund_summary(session, village.id),
            "redeemed": request.query_params.get("redeemed"),
        },
    )


@router.post(V + "/shop/redeem", dependencies=[CsrfChecked])
def redeem(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    item_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    quantity: Annotated[int, Form(ge=1, le=20)] = 1,
    card_code: Annotated[str, Form(max_length=32)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    item = shop.get_item(session, village, item_id)
    if card_code:
        household = shop.household_by_card(session, village, card_code)
        account = service.account_for_holder(session, village.id, f"h:{household.id}")
        assert account is not None
        redemption = shop.redeem(
            session, principal, village, account, item, quantity, via_card=True
        )
        shop.hand_over(session, principal, village, redemption)
        return redirect(f"/points/villages/{village.id}/card/{card_code}?redeemed={redemption.id}")
    account = (
        service.account_of_person(session, village, principal.person_id)
        if principal.person_id
        else None
    )
    if account is None:
        raise InvalidInput(
            N_("This person is not in any household yet; a cadre must add them to one first")
        )
    redemption = shop.redeem(session, principal, village, account, item, quantity)
    return redirect(f"/points/villages/{village.id}/shop?redeemed={redemption.id}")


@router.post(V + "/shop/redemptions/{redemption_id}/{action}", dependencies=[CsrfChecked])
def redemption_action(
    village_id: Id,
    redemption_id: Id,
    action: str,
    session: DbSession,
    principal: LoggedIn,
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    redemption = shop.get_redemption(session, village, redemption_id)
    if action == "handover":
        shop.hand_over(session, principal, village, redemption)
    elif action == "cancel":
        shop.cancel_redemption(session, principal, village, redemption)
    else:
        raise NotFound()
    return redirect(f"/points/villages/{village.id}/shop")


@router.get(V + "/card/{card_code}", response_class=HTMLResponse)
def household_card(
    village_id: Id,
    card_code: str,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.SHOP)
    household = shop.household_by_card(session, village, card_code[:32])
    account = service.account_for_holder(session, village.id, f"h:{household.id}", create=False)
    return _page(
        request,
        "points/card.html",
        session,
        principal,
        village,
        household=household,
        members=service.household_members(session, household),
        account=account,
        items=shop.items(session, village),
        redemptions=shop.redemptions(session, village, account_id=account.id, limit=10)
        if account
        else [],
        redeemed=request.query_params.get("redeemed"),
    )


@router.post(V + "/shop/items", dependencies=[CsrfChecked])
def add_item(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form(max_length=100)],
    price_points: Annotated[int, Form(ge=1, le=100_000)],
    unit_cost_yuan: Annotated[str, Form(max_length=12)],
    stock: Annotated[int, Form(ge=0, le=100_000)] = 0,
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    shop.add_item(
        session,
        principal,
        village,
        name=name,
        price_points=price_points,
        unit_cost_fen=yuan_to_fen(unit_cost_yuan),
        stock=stock,
    )
    return redirect(f"/points/villages/{village.id}/shop")


@router.post(V + "/shop/items/{item_id}/restock", dependencies=[CsrfChecked])
def restock(
    village_id: Id,
    item_id: Id,
    session: DbSession,
    principal: LoggedIn,
    quantity: Annotated[int, Form(ge=-100_000, le=100_000)],
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    shop.restock(session, principal, village, shop.get_item(session, village, item_id), quantity)
    return redirect(f"/points/villages/{village.id}/shop")


@router.post(V + "/fund/donations", dependencies=[CsrfChecked])
def donate(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    amount_yuan: Annotated[str, Form(max_length=12)],
    donor: Annotated[str, Form(max_length=100)],
    note: Annotated[str, Form(max_length=300)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    shop.add_donation(
        session, principal, village, amount_fen=yuan_to_fen(amount_yuan), donor=donor, note=note
    )
    return redirect(f"/points/villages/{village.id}/shop")


def yuan_to_fen(value: str) -> int:
    """Cadres type yuan ("12.50"); money is stored in whole fen."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(value.strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise InvalidInput(N_("Enter an amount in yuan, such as 12.50")) from None
    fen = amount * 100
    if fen != fen.to_integral_value() or not 0 <= fen <= 100_000_000:
        raise InvalidInput(N_("Enter an amount in yuan, such as 12.50"))
    return int(fen)


# --- management -------------------------------------------------------------------------------


@router.get(V + "/manage", response_class=HTMLResponse)
def manage(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    catalogue = service.get_catalogue(session, village)
    house_rows = [
        (h, service.household_members(session, h)) for h in service.households(session, village)
    ]
    return _page(
        request,
        "points/manage.html",
        session,
        principal,
        village,
        categories=service.categories(session, catalogue),
        rules=service.current_rules(session, catalogue, include_retired=True),
        households=house_rows,
        tiers_text="\n".join(f"{t['name']} {t['min_points']}" for t in catalogue.star_tiers),
    )


@router.post(V + "/settings", dependencies=[CsrfChecked])
def update_settings(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    notice_days: Annotated[int, Form(ge=1, le=30)],
    approval_roles: Annotated[list[str], Form()],
    reset_period: Annotated[str, Form(max_length=16)],
    base_points: Annotated[int, Form(ge=0, le=100_000)],
    min_redeem_balance: Annotated[int, Form(ge=0, le=100_000)],
    account_unit: Annotated[str, Form(max_length=16)],
    star_tiers: Annotated[str, Form(max_length=1000)] = "",
    volunteer_rule_code: Annotated[str, Form(max_length=32)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    tiers = []
    for line in star_tiers.splitlines():
        name, _, points = line.strip().rpartition(" ")
        if not line.strip():
            continue
        if not name or not points.isdigit():
            raise InvalidInput(
                N_("Each tier line is a name and the points, such as: 五星文明户 120")
            )
        tiers.append({"name": name.strip(), "min_points": int(points)})
    service.update_settings(
        session,
        principal,
        village,
        notice_days=notice_days,
        approval_roles=[r for r in approval_roles if r],
        reset_period=reset_period,
        base_points=base_points,
        min_redeem_balance=min_redeem_balance,
        account_unit=account_unit,
        star_tiers=tiers,
        volunteer_rule_code=volunteer_rule_code,
    )
    return redirect(f"/points/villages/{village.id}/manage#settings")


def _rule_form(
    category_id: int,
    title: str,
    points: int,
    reporters: list[str],
    evidence_required: bool,
    cap_count: str,
    cap_period: str,
    description: str,
) -> service.RuleInput:
    cap = cap_count.strip()
    if cap and not cap.isdigit():
        raise InvalidInput(N_("The cap must be a whole number, or empty for none"))
    return service.RuleInput(
        category_id=category_id,
        title=title,
        points=points,
        evidence_required=evidence_required,
        cap_count=int(cap) if cap else None,
        cap_period=cap_period,
        reporters=reporters,
        description=description,
    )


@router.post(V + "/rules", dependencies=[CsrfChecked])
def save_rule(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    category_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    title: Annotated[str, Form(max_length=200)],
    points: Annotated[int, Form(ge=-1000, le=1000)],
    reporters: Annotated[list[str], Form()],
    code: Annotated[str, Form(max_length=32)] = "",
    evidence_required: Annotated[bool, Form()] = False,
    cap_count: Annotated[str, Form(max_length=5)] = "",
    cap_period: Annotated[str, Form(max_length=16)] = "month",
    description: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    data = _rule_form(
        category_id, title, points, reporters, evidence_required, cap_count, cap_period, description
    )
    if code:
        service.revise_rule(session, principal, village, code, data)
    else:
        service.add_rule(session, principal, village, data)
    return redirect(f"/points/villages/{village.id}/manage#rules")


@router.post(V + "/rules/{code}/active", dependencies=[CsrfChecked])
def rule_active(
    village_id: Id,
    code: str,
    session: DbSession,
    principal: LoggedIn,
    active: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    service.set_rule_active(session, principal, village, code[:32], active)
    return redirect(f"/points/villages/{village.id}/manage#rules")


@router.post(V + "/categories", dependencies=[CsrfChecked])
def add_category(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form(max_length=100)],
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    service.add_category(session, principal, village, name)
    return redirect(f"/points/villages/{village.id}/manage#rules")


@router.post(V + "/households", dependencies=[CsrfChecked])
def create_household(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form(max_length=100)],
    phones: Annotated[str, Form(max_length=1000)],
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    service.create_household(
        session,
        principal,
        village,
        name=name,
        member_phones=phones.replace("，", ",").replace("\n", ",").split(","),
    )
    return redirect(f"/points/villages/{village.id}/manage#households")


@router.get(V + "/cards.pdf")
def cards_pdf(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    household: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    chosen = (
        [service.get_household(session, village, household)]
        if household
        else service.households(session, village)
    )
    base_url = str(request.base_url).rstrip("/")
    data = reports.household_cards_pdf(session, village, chosen, base_url)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="household-cards.pdf"'},
    )
