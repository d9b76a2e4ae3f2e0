"""Community funds at work: the keeper's page (funds, calls for proposals, decisions on
proposals) and the proposer's (a call, a proposal to it, reports on a grant)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import PROPOSAL_STATUS_LABELS, Fund, FundCall, Proposal
from gongchuang.charity.pages.manage import (
    labels,
    moment_from_local,
    parse_form,
    region_choices,
    require_somewhere,
    saved_file,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import (
    FundCallIn,
    FundIn,
    GrantReportIn,
    ProposalDecisionIn,
    ProposalIn,
)
from gongchuang.charity.service._common import may
from gongchuang.core import organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.forms import fen_from_yuan
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import Organisation
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render

router = APIRouter(include_in_schema=False)


def _fund_labels() -> dict[str, Any]:
    return {**labels(), "proposal_status": PROPOSAL_STATUS_LABELS}


def _organisation_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
        ).all()
    )


# --- the keeper's page -----------------------------------------------------------------------


def _call_rows(session: Session, fund: Fund) -> list[dict[str, Any]]:
    rows = []
    now = utcnow()
    for call in service.calls_of(session, fund.id):
        proposals = service.proposals_of(session, call.id)
        rows.append(
            {
                "call": call,
                "open": call.opens_at <= now < call.closes_at,
                "proposals": proposals,
                "names": _organisation_names(session, {p.organisation_id for p in proposals}),
                "reports": {p.id: service.reports_of(session, p.id) for p in proposals},
            }
        )
    return rows


@router.get("/charity/funds/manage", response_class=HTMLResponse)
def funds_page(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    require_somewhere(session, principal, CharityPerm.MANAGE)
    rows = []
    for organisation in organisations.organisations_with(session, principal, CharityPerm.MANAGE):
        funds = list(
            session.scalars(
                select(Fund).where(Fund.organisation_id == organisation.id).order_by(Fund.id)
            )
        )
        rows.append(
            {
                "organisation": organisation,
                "regions": region_choices(session, organisation.region_id),
                "funds": [{"fund": f, "calls": _call_rows(session, f)} for f in funds],
            }
        )
    return render(request, "charity/fundwork.html", {**_fund_labels(), "rows": rows})


@router.post("/charity/funds/manage/funds", dependencies=[CsrfChecked])
def create_fund(session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    fund = service.create_fund(session, principal, parse_form(FundIn, dict(form)))
    return redirect(f"/charity/funds/manage#fund-{fund.id}")


@router.post("/charity/funds/manage/funds/{fund_id}/calls", dependencies=[CsrfChecked])
def open_call(fund_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    values = {
        **form,
        "budget_fen": fen_from_yuan(form.get("budget_yuan"), "budget_yuan"),
        "opens_at": moment_from_local(form.get("opens_local"), "opens_local"),
        "closes_at": moment_from_local(form.get("closes_local"), "closes_local"),
    }
    command = parse_form(
        FundCallIn,
        values,
        {"budget_fen": "budget_yuan", "opens_at": "opens_local", "closes_at": "closes_local"},
        rule_field="closes_local",
    )
    call = service.open_call(session, principal, fund_id, command)
    return redirect(f"/charity/funds/manage#call-{call.id}")


@router.post("/charity/funds/manage/proposals/{proposal_id}/decision", dependencies=[CsrfChecked])
def decide(proposal_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    granted = fen_from_yuan(form.get("granted_yuan"), "granted_yuan")
    values = {**form, "granted_fen": granted if form.get("decision") == "grant" else ""}
    command = parse_form(
        ProposalDecisionIn, values, {"granted_fen": "granted_yuan"}, rule_field="granted_yuan"
    )
    proposal = service.decide_proposal(session, principal, proposal_id, command)
    return redirect(f"/charity/funds/manage#proposal-{proposal.id}")


# --- the proposer's page ---------------------------------------------------------------------


@router.get("/charity/calls/{call_id}", response_class=HTMLResponse)
def call_page(
    request: Request, call_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    require_somewhere(session, principal, CharityPerm.PROPOSE)
    call = session.get(FundCall, call_id)
    if call is None:
        raise NotFound()
    fund = service.fund(session, call.fund_id)
    mine = [
        o
        for o in organisations.organisations_with(session, principal, CharityPerm.PROPOSE)
        if o.id != fund.organisation_id
    ]
    mine_ids = {o.id for o in mine}
    proposals = [p for p in service.proposals_of(session, call.id) if p.organisation_id in mine_ids]
    now = utcnow()
    return render(
        request,
        "charity/fundwork_call.html",
        {
            **_fund_labels(),
            "call": call,
            "fund": fund,
            "open": call.opens_at <= now < call.closes_at,
            "choices": [o for o in mine if o.id not in {p.organisation_id for p in proposals}],
            "proposals": proposals,
            "names": {o.id: o.name for o in mine},
            "reports": {p.id: service.reports_of(session, p.id) for p in proposals},
        },
    )


@router.post("/charity/calls/{call_id}/proposals", dependencies=[CsrfChecked])
def propose(call_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    values = {**form, "requested_fen": fen_from_yuan(form.get("requested_yuan"), "requested_yuan")}
    command = parse_form(ProposalIn, values, {"requested_fen": "requested_yuan"})
    service.submit_proposal(session, principal, call_id, command)
    return redirect(f"/charity/calls/{call_id}#proposals")


def _proposal(session: Session, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound()
    return proposal


@router.post(
    "/charity/proposals/{proposal_id}/reports",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def report(
    proposal_id: Id,
    session: DbSession,
    principal: LoggedIn,
    text: Annotated[str, Form(max_length=10_000)] = "",
    spent_yuan: Annotated[str, Form(max_length=40)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    values: dict[str, object] = {
        "text": text,
        # Nothing spent yet is a report too.
        "spent_fen": fen_from_yuan(spent_yuan, "spent_yuan", allow_zero=True)
        if spent_yuan.strip()
        else "",
    }
    names = {"spent_fen": "spent_yuan", "file_id": "file"}
    # Checked before the file is stored.
    parse_form(GrantReportIn, values, names)
    proposal = _proposal(session, proposal_id)
    if not may(session, principal, CharityPerm.PROPOSE, proposal.organisation_id):
        raise NotFound()
    command = parse_form(
        GrantReportIn, {**values, "file_id": saved_file(session, principal, file)}, names
    )
    service.report_on_grant(session, principal, proposal.id, command)
    return redirect(f"/charity/calls/{proposal.call_id}#proposal-{proposal.id}")
