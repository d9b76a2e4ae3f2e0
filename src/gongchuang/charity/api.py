"""The charity REST API under /api/v1/charity. Routes parse, call one service function and
shape the answer; the service checks who may do what (the route only checks a token's scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request

from gongchuang.charity import service
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import (
    BudgetLineIn,
    BudgetLineOut,
    CampaignDetailOut,
    CampaignIn,
    CampaignOut,
    CertificationIn,
    CharityIn,
    CharityOut,
    ClawBackIn,
    DonateIn,
    DonationOut,
    ExpenseIn,
    ExpenseOut,
    FundCallIn,
    FundCallOut,
    FundDetailOut,
    FundIn,
    FundOut,
    GrantReportIn,
    GrantReportOut,
    LedgerEntryOut,
    MatchOut,
    PotIn,
    PotOut,
    ProjectDetailOut,
    ProjectIn,
    ProjectOut,
    ProjectStatusIn,
    ProposalDecisionIn,
    ProposalIn,
    ProposalOut,
    PublicDonationOut,
    RecurringGiftOut,
    RecurringIn,
    RefundDonationIn,
    RejectIn,
    ReviewIn,
    ShareOutOut,
)
from gongchuang.charity.service import views
from gongchuang.charity.service._common import public_project
from gongchuang.core.api import PROBLEMS
from gongchuang.core.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    BigId,
    DbSession,
    Id,
    Require,
    client_source,
)

router = APIRouter(prefix="/api/v1/charity", tags=["charity"], responses=PROBLEMS)

Donating = Annotated[Principal, Depends(Require(CharityPerm.DONATE))]
Managing = Annotated[Principal, Depends(Require(CharityPerm.MANAGE))]
Approving = Annotated[Principal, Depends(Require(CharityPerm.APPROVE))]
Certifying = Annotated[Principal, Depends(Require(CharityPerm.CERTIFY))]
Campaigning = Annotated[Principal, Depends(Require(CharityPerm.CAMPAIGN))]
Reviewing = Annotated[Principal, Depends(Require(CharityPerm.REVIEW))]
Proposing = Annotated[Principal, Depends(Require(CharityPerm.PROPOSE))]

DonationCode = Annotated[str, Path(pattern=r"^D\d{14}$")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
DeviceId = Annotated[str | None, Header(alias="X-Device-Id", max_length=200)]


SeeingExpenses = Annotated[Principal, Depends(Require(CharityPerm.MANAGE, CharityPerm.APPROVE))]
SeeingDonation = Annotated[Principal, Depends(Require(CharityPerm.DONATE, CharityPerm.MANAGE))]


def _origin(request: Request, device_id: str | None) -> service.DonationOrigin:
    """Where a donation came from, for burst screening only: the app's device id if it sends
    one, else the browser's User-Agent; and the network address."""
    device = device_id or request.headers.get("user-agent", "")
    return service.DonationOrigin(device=device[:200], address=client_source(request))


def _ledger_page(
    session: DbSession, cursor: str | None, limit: int, **owner: int
) -> Page[LedgerEntryOut]:
    # Each movement is two rows, both on the same page: the service answers limit * 2.
    rows = service.entries(session, before_id=decode_cursor(cursor), limit=limit, **owner)
    next_cursor = encode_cursor(rows[-1].id) if len(rows) == limit * 2 else None
    return Page[LedgerEntryOut](
        items=[views.ledger_entry_out(e) for e in rows], next_cursor=next_cursor
    )


# --- what anyone may read ---------------------------------------------------------------------


@router.get("/projects", summary="List projects raising or closed (never drafts)")
def list_projects(
    session: DbSession,
    region_id: OptionalId = None,
    campaign_id: OptionalId = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ProjectOut]:
    rows = views.public_projects(
        session,
        region_id=region_id,
        campaign_id=campaign_id,
        after_id=decode_cursor(cursor),
        limit=limit,
    )
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[ProjectOut](
        items=[views.project_out(p) for p in rows[:limit]], next_cursor=next_cursor
    )


@router.get("/projects/{project_id}", summary="A project, its budget lines and campaigns")
def get_project(project_id: Id, session: DbSession) -> ProjectDetailOut:
    return views.project_detail_out(session, public_project(session, project_id))


@router.get("/projects/{project_id}/ledger", summary="A project's public ledger, newest first")
def project_ledger(
    project_id: Id, session: DbSession, cursor: Cursor = None, limit: Limit = 50
) -> Page[LedgerEntryOut]:
    project = public_project(session, project_id)
    return _ledger_page(session, cursor, limit, project_id=project.id)


@router.get(
    "/projects/{project_id}/donations",
    summary="A project's received donations, newest first, donors masked",
)
def project_donations(
    project_id: Id, session: DbSession, cursor: Cursor = None, limit: Limit = 50
) -> Page[PublicDonationOut]:
    project = public_project(session, project_id)
    rows = views.paid_donations(session, project.id, before_id=decode_cursor(cursor), limit=limit)
    next_cursor = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    return Page[PublicDonationOut](
        items=[views.public_donation_out(d, name) for d, name in rows[:limit]],
        next_cursor=next_cursor,
    )


@router.get("/campaigns", summary="List campaigns, latest first")
def list_campaigns(session: DbSession) -> list[CampaignOut]:
    return [views.campaign_out(c) for c in service.all_campaigns(session)]


@router.get("/campaigns/{campaign_id}", summary="A campaign, its pots and what each has left")
def get_campaign(campaign_id: Id, session: DbSession) -> CampaignDetailOut:
    return views.campaign_detail_out(session, service.campaign(session, campaign_id))


@router.get("/funds", summary="List community funds, optionally of a region")
def list_funds(session: DbSession, region_id: OptionalId = None) -> list[FundOut]:
    return [views.fund_out(f) for f in service.all_funds(session, region_id)]


@router.get("/funds/{fund_id}", summary="A community fund and its calls for proposals")
def get_fund(fund_id: Id, session: DbSession) -> FundDetailOut:
    return views.fund_detail_out(session, service.fund(session, fund_id))


@router.get("/funds/{fund_id}/ledger", summary="A community fund's public ledger, newest first")
def fund_ledger(
    fund_id: Id, session: DbSession, cursor: Cursor = None, limit: Limit = 50
) -> Page[LedgerEntryOut]:
    fund = service.fund(session, fund_id)
    return _ledger_page(session, cursor, limit, fund_id=fund.id)


# --- donors -----------------------------------------------------------------------------------


@router.post("/projects/{project_id}/donations", status_code=201, summary="Donate to a project")
def donate(
    project_id: Id,
    data: DonateIn,
    request: Request,
    session: DbSession,
    principal: Donating,
    x_device_id: DeviceId = None,
) -> DonationOut:
    donation = service.donate(session, principal, project_id, data, _origin(request, x_device_id))
    return views.donation_out(session, donation)


@router.post("/funds/{fund_id}/donations", status_code=201, summary="Give to a community fund")
def donate_to_fund(
    fund_id: Id,
    data: DonateIn,
    request: Request,
    session: DbSession,
    principal: Donating,
    x_device_id: DeviceId = None,
) -> DonationOut:
    donation = service.donate_to_fund(
        session, principal, fund_id, data, _origin(request, x_device_id)
    )
    return views.donation_out(session, donation)


@router.get("/donations/mine", summary="My donations, newest first")
def my_donations(
    session: DbSession, principal: Donating, cursor: Cursor = None, limit: Limit = 50
) -> Page[DonationOut]:
    rows = views.donations_of(session, principal, before_id=decode_cursor(cursor), limit=limit)
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[DonationOut](
        items=[views.donation_out(session, d) for d in rows[:limit]], next_cursor=next_cursor
    )


@router.get("/donations/{code}", summary="A donation of mine (or to my charity)")
def get_donation(code: DonationCode, session: DbSession, principal: SeeingDonation) -> DonationOut:
    return views.donation_out(session, service.own_donation(session, principal, code))


@router.post(
    "/projects/{project_id}/recurring", status_code=201, summary="Give to a project monthly"
)
def start_recurring(
    project_id: Id, data: RecurringIn, session: DbSession, principal: Donating
) -> RecurringGiftOut:
    return views.recurring_out(service.start_recurring(session, principal, project_id, data))


@router.delete("/recurring/{gift_id}", summary="Cancel a monthly gift")
def cancel_recurring(gift_id: Id, session: DbSession, principal: Donating) -> RecurringGiftOut:
    return views.recurring_out(service.cancel_recurring(session, principal, gift_id))


@router.get("/recurring/mine", summary="My monthly gifts, active first")
def my_recurring(session: DbSession, principal: Donating) -> list[RecurringGiftOut]:
    return [views.recurring_out(g) for g in service.gifts_of(session, principal.person_id or 0)]


# --- charities and their projects ------------------------------------------------------------


@router.post("/charities", status_code=201, summary="Register an organisation as a charity")
def register_charity(data: CharityIn, session: DbSession, principal: Managing) -> CharityOut:
    return views.charity_out(service.register_charity(session, principal, data))


@router.post("/charities/{charity_id}/certification", summary="Certify or suspend a charity")
def certify(
    charity_id: Id, data: CertificationIn, session: DbSession, principal: Certifying
) -> CharityOut:
    return views.charity_out(service.certify(session, principal, charity_id, data))


@router.post(
    "/charities/{charity_id}/projects", status_code=201, summary="Create a project (a draft)"
)
def create_project(
    charity_id: Id, data: ProjectIn, session: DbSession, principal: Managing
) -> ProjectDetailOut:
    project = service.create_project(session, principal, charity_id, data)
    return views.project_detail_out(session, project)


@router.post("/projects/{project_id}/status", summary="Open or close a project's raising")
def set_project_status(
    project_id: Id, data: ProjectStatusIn, session: DbSession, principal: Managing
) -> ProjectOut:
    return views.project_out(service.set_project_status(session, principal, project_id, data))


@router.post("/projects/{project_id}/budget-lines", status_code=201, summary="Add a budget line")
def add_budget_line(
    project_id: Id, data: BudgetLineIn, session: DbSession, principal: Managing
) -> BudgetLineOut:
    return views.budget_line_out(service.add_budget_line(session, principal, project_id, data))


@router.post(
    "/campaigns/{campaign_id}/projects/{project_id}",
    status_code=201,
    summary="Enrol a project in a campaign",
)
def enrol(
    campaign_id: Id, project_id: Id, session: DbSession, principal: Managing
) -> CampaignDetailOut:
    entry = service.enrol(session, principal, campaign_id, project_id)
    return views.campaign_detail_out(session, service.campaign(session, entry.campaign_id))


@router.post("/donations/{code}/refund", summary="Give a received donation back in full")
def refund_donation(
    code: DonationCode, data: RefundDonationIn, session: DbSession, principal: Managing
) -> DonationOut:
    return views.donation_out(session, service.refund_donation(session, principal, code, data))


# --- spending ---------------------------------------------------------------------------------


@router.post(
    "/projects/{project_id}/expenses", status_code=201, summary="Draft an expense on a budget line"
)
def create_expense(
    project_id: Id, data: ExpenseIn, session: DbSession, principal: Managing
) -> ExpenseOut:
    return views.expense_out(session, service.create_expense(session, principal, project_id, data))


@router.get("/projects/{project_id}/expenses", summary="A project's expenses")
def list_expenses(
    project_id: Id, session: DbSession, principal: SeeingExpenses
) -> list[ExpenseOut]:
    return [
        views.expense_out(session, e) for e in views.expenses_to_see(session, principal, project_id)
    ]


@router.post("/expenses/{expense_id}/submit", summary="Submit an expense for approval")
def submit_expense(expense_id: Id, session: DbSession, principal: Managing) -> ExpenseOut:
    return views.expense_out(session, service.submit_expense(session, principal, expense_id))


@router.post("/expenses/{expense_id}/approve", summary="Approve a colleague's expense")
def approve_expense(expense_id: Id, session: DbSession, principal: Approving) -> ExpenseOut:
    return views.expense_out(session, service.approve_expense(session, principal, expense_id))


@router.post("/expenses/{expense_id}/reject", summary="Reject an expense, saying why")
def reject_expense(
    expense_id: Id, data: RejectIn, session: DbSession, principal: Approving
) -> ExpenseOut:
    return views.expense_out(session, service.reject_expense(session, principal, expense_id, data))


@router.post("/expenses/{expense_id}/pay", summary="Pay an approved expense")
def pay_expense(expense_id: Id, session: DbSession, principal: Managing) -> ExpenseOut:
    return views.expense_out(session, service.pay_expense(session, principal, expense_id))


# --- campaigns, pots and review ---------------------------------------------------------------


@router.post(
    "/organisations/{organisation_id}/campaigns", status_code=201, summary="Start a campaign"
)
def create_campaign(
    organisation_id: Id, data: CampaignIn, session: DbSession, principal: Campaigning
) -> CampaignDetailOut:
    campaign = service.create_campaign(session, principal, organisation_id, data)
    return views.campaign_detail_out(session, campaign)


@router.post("/campaigns/{campaign_id}/pots", status_code=201, summary="Add a matching pot")
def add_pot(campaign_id: Id, data: PotIn, session: DbSession, principal: Campaigning) -> PotOut:
    pot = service.add_pot(session, principal, campaign_id, data)
    return views.pot_out(pot, service.remaining(session, pot))


@router.post("/pots/{pot_id}/share-out", summary="Share a quadratic pot out after its campaign")
def share_out(pot_id: Id, session: DbSession, principal: Campaigning) -> ShareOutOut:
    return ShareOutOut(pot_id=pot_id, shares=service.share_out(session, principal, pot_id))


@router.get("/matches/review", summary="Matches held for review in the campaigns I review")
def matches_to_review(session: DbSession, principal: Reviewing) -> list[MatchOut]:
    return [views.match_out(session, m) for m in service.matches_to_review(session, principal)]


@router.post("/matches/{match_id}/review", summary="Release a held match or claw it back")
def review(match_id: BigId, data: ReviewIn, session: DbSession, principal: Reviewing) -> MatchOut:
    return views.match_out(session, service.review(session, principal, match_id, data))


@router.post("/matches/{match_id}/claw-back", summary="Claw a match back after an audit")
def claw_back(
    match_id: BigId, data: ClawBackIn, session: DbSession, principal: Reviewing
) -> MatchOut:
    return views.match_out(
        session, service.claw_back_after_audit(session, principal, match_id, data)
    )


# --- community funds --------------------------------------------------------------------------


@router.post("/funds", status_code=201, summary="Set up a community fund")
def create_fund(data: FundIn, session: DbSession, principal: Managing) -> FundDetailOut:
    return views.fund_detail_out(session, service.create_fund(session, principal, data))


@router.post("/funds/{fund_id}/calls", status_code=201, summary="Open a call for proposals")
def open_call(
    fund_id: Id, data: FundCallIn, session: DbSession, principal: Managing
) -> FundCallOut:
    return views.call_out(service.open_call(session, principal, fund_id, data))


@router.post("/calls/{call_id}/proposals", status_code=201, summary="Propose to a call")
def submit_proposal(
    call_id: Id, data: ProposalIn, session: DbSession, principal: Proposing
) -> ProposalOut:
    return views.proposal_out(service.submit_proposal(session, principal, call_id, data))


@router.post("/proposals/{proposal_id}/decision", summary="Grant or decline a proposal")
def decide_proposal(
    proposal_id: Id, data: ProposalDecisionIn, session: DbSession, principal: Managing
) -> ProposalOut:
    return views.proposal_out(service.decide_proposal(session, principal, proposal_id, data))


@router.post("/proposals/{proposal_id}/reports", status_code=201, summary="Report on a grant's use")
def report_on_grant(
    proposal_id: Id, data: GrantReportIn, session: DbSession, principal: Proposing
) -> GrantReportOut:
    return views.report_out(service.report_on_grant(session, principal, proposal_id, data))
