"""Pages anyone may read: the running campaigns and open projects, a project with its story,
budget, matching pots and recent gifts, its public ledger, a campaign, the community funds, and
the check of a receipt's number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from gongchuang.charity import service
from gongchuang.charity.pages._common import keep_device, labels
from gongchuang.charity.service import queries
from gongchuang.core.clock import utcnow
from gongchuang.core.web import CurrentPrincipal, DbSession, Id, render

router = APIRouter(include_in_schema=False)
BeforeId = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
CampaignRef = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
DonationCode = Annotated[str, Path(pattern=r"^D\d{14}$")]


@router.get("/charity", response_class=HTMLResponse)
def home(request: Request, session: DbSession, principal: CurrentPrincipal) -> HTMLResponse:
    # (The principal is loaded for the page: it offers "my giving" to a person logged in.)
    campaigns = queries.running_campaigns(session)
    pots = queries.pots_of_campaigns(session, [c.id for c in campaigns])
    return render(
        request,
        "charity/home.html",
        {
            **labels(),
            "campaigns": campaigns,
            "pots": pots,
            "left": service.pots_left(session, [p.id for ps in pots.values() for p in ps]),
            "projects": queries.open_projects(session),
            "funds": service.all_funds(session),
        },
    )


@router.get("/charity/projects/{project_id}", response_class=HTMLResponse)
def project_page(
    request: Request,
    project_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    campaign: CampaignRef = None,
) -> HTMLResponse:
    project = queries.public_project(session, project_id)
    campaigns = service.campaigns_of_project(session, project.id)
    pots = queries.pots_of_campaigns(session, [c.id for c in campaigns])
    response = render(
        request,
        "charity/project.html",
        {
            **labels(),
            "project": project,
            "charity_name": queries.organisation_name(session, project.organisation_id),
            "budget": queries.budget_figures(session, project.id),
            "campaigns": campaigns,
            "pots": pots,
            "left": service.pots_left(session, [p.id for ps in pots.values() for p in ps]),
            "donations": queries.recent_donations(session, project.id),
            "campaign_id": campaign if any(c.id == campaign for c in campaigns) else None,
            "now": utcnow(),
        },
    )
    keep_device(request, response)
    return response


@router.get("/charity/projects/{project_id}/ledger", response_class=HTMLResponse)
def project_ledger(
    request: Request, project_id: Id, session: DbSession, before_id: BeforeId = None
) -> HTMLResponse:
    project = queries.public_project(session, project_id)
    return render(
        request,
        "charity/ledger.html",
        {
            **labels(),
            "project": project,
            "ledger": queries.ledger_page(session, project_id=project.id, before_id=before_id),
            "totals": queries.ledger_totals(session, project_id=project.id),
            "expenses": queries.paid_expenses(session, project.id),
            "before_id": before_id,
        },
    )


@router.get("/charity/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: Id, session: DbSession) -> HTMLResponse:
    campaign = service.campaign(session, campaign_id)
    pots = service.pots_of(session, campaign.id)
    now = utcnow()
    return render(
        request,
        "charity/campaign.html",
        {
            **labels(),
            "campaign": campaign,
            "organiser": queries.organisation_name(session, campaign.organisation_id),
            "pots": pots,
            "left": service.pots_left(session, [p.id for p in pots]),
            "projects": service.projects_of_campaign(session, campaign.id),
            "running": campaign.starts_at <= now < campaign.ends_at,
            "now": now,
        },
    )


@router.get("/charity/funds", response_class=HTMLResponse)
def funds(request: Request, session: DbSession) -> HTMLResponse:
    return render(request, "charity/funds.html", {**labels(), "funds": service.all_funds(session)})


@router.get("/charity/funds/{fund_id}", response_class=HTMLResponse)
def fund_page(
    request: Request,
    fund_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    before_id: BeforeId = None,
) -> HTMLResponse:
    fund = service.fund(session, fund_id)
    response = render(
        request,
        "charity/fund.html",
        {
            **labels(),
            "fund": fund,
            "keeper": queries.organisation_name(session, fund.organisation_id),
            "calls": queries.open_calls(session, fund.id),
            "grants": queries.grants_shown(session, fund.id),
            "ledger": queries.ledger_page(session, fund_id=fund.id, before_id=before_id),
            "before_id": before_id,
        },
    )
    keep_device(request, response)
    return response


@router.get("/charity/receipts/{code}", response_class=HTMLResponse)
def receipt_check(request: Request, code: DonationCode, session: DbSession) -> HTMLResponse:
    """Anyone holding a receipt checks that it is genuine: the amount, what for, when, and the
    donor's masked name (or that they gave anonymously); nothing else."""
    return render(
        request,
        "charity/receipt_check.html",
        {"receipt": queries.receipt_check(session, code)},
    )
