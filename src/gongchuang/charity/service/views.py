"""Presenters: rows into what the API answers (the pages read the same rows), and the few
read-only lists the API pages through that no rule needs (public projects, a project's paid
donations, a donor's own). Nothing here writes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    BudgetLine,
    Campaign,
    CampaignProject,
    Charity,
    Donation,
    DonationStatus,
    Expense,
    Fund,
    FundCall,
    GrantReport,
    LedgerEntry,
    Match,
    MatchStatus,
    Pot,
    Project,
    ProjectStatus,
    Proposal,
    RecurringGift,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import (
    BudgetLineOut,
    CampaignDetailOut,
    CampaignOut,
    CharityOut,
    DonationOut,
    ExpenseOut,
    FundCallOut,
    FundDetailOut,
    FundOut,
    GrantReportOut,
    LedgerEntryOut,
    MatchOut,
    PotOut,
    ProjectDetailOut,
    ProjectOut,
    ProposalOut,
    PublicDonationOut,
    RecurringGiftOut,
)
from gongchuang.charity.service._common import may, person_of
from gongchuang.charity.service.campaigns import (
    campaigns_of_project,
    pots_left,
    pots_of,
    projects_of_campaign,
)
from gongchuang.charity.service.charities import budget_lines
from gongchuang.charity.service.expenses import approvals_of, expenses_of
from gongchuang.charity.service.funds import calls_of
from gongchuang.charity.service.matching import matches_of_donation
from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Person, Region
from gongchuang.core.permissions import Principal

ANONYMOUS_DONOR = N_("Anonymous donor")


# --- reads the API pages through ---------------------------------------------------------------


def public_projects(
    session: Session,
    *,
    region_id: int | None = None,
    campaign_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[Project]:
    """Projects the public may see (raising or closed, never drafts), oldest first, those of
    a region and the regions under it, or of a campaign; limit + 1 rows to tell if more follow."""
    query = select(Project).where(Project.status.in_([ProjectStatus.open, ProjectStatus.closed]))
    if region_id is not None:
        region = session.get(Region, region_id)
        if region is None:
            return []
        query = query.join(Region, Region.id == Project.region_id).where(
            Region.path.startswith(region.path)
        )
    if campaign_id is not None:
        query = query.join(CampaignProject, CampaignProject.project_id == Project.id).where(
            CampaignProject.campaign_id == campaign_id
        )
    if after_id is not None:
        query = query.where(Project.id > after_id)
    return list(session.scalars(query.order_by(Project.id).limit(limit + 1)))


def paid_donations(
    session: Session, project_id: int, *, before_id: int | None = None, limit: int = 50
) -> list[tuple[Donation, str]]:
    """A project's received donations, newest first, each with its donor's name (to be masked
    before anyone sees it); limit + 1 rows to tell if more follow."""
    query = (
        select(Donation, Person.name)
        .join(Person, Person.id == Donation.donor_id)
        .where(Donation.project_id == project_id, Donation.status == DonationStatus.paid)
    )
    if before_id is not None:
        query = query.where(Donation.id < before_id)
    rows = session.execute(query.order_by(Donation.id.desc()).limit(limit + 1)).all()
    return [(donation, name) for donation, name in rows]


def donations_of(
    session: Session, actor: Principal, *, before_id: int | None = None, limit: int = 50
) -> list[Donation]:
    """The caller's own donations, newest first; limit + 1 rows to tell if more follow."""
    query = select(Donation).where(Donation.donor_id == person_of(actor))
    if before_id is not None:
        query = query.where(Donation.id < before_id)
    return list(session.scalars(query.order_by(Donation.id.desc()).limit(limit + 1)))


def expenses_to_see(session: Session, actor: Principal, project_id: int) -> list[Expense]:
    """A project's expenses for its charity's staff and for those who approve them."""
    project = session.get(Project, project_id)
    if project is None or not (
        may(session, actor, CharityPerm.MANAGE, project.organisation_id)
        or may(session, actor, CharityPerm.APPROVE, project.organisation_id)
    ):
        raise NotFound()
    return expenses_of(session, project.id)


# --- presenters ---------------------------------------------------------------------------------


def charity_out(charity: Charity) -> CharityOut:
    return CharityOut.model_validate(charity)


def project_out(project: Project) -> ProjectOut:
    return ProjectOut.model_validate(project)


def budget_line_out(line: BudgetLine) -> BudgetLineOut:
    return BudgetLineOut.model_validate(line)


def campaign_out(campaign: Campaign) -> CampaignOut:
    return CampaignOut.model_validate(campaign)


def project_detail_out(session: Session, project: Project) -> ProjectDetailOut:
    return ProjectDetailOut(
        **project_out(project).model_dump(),
        budget_lines=[budget_line_out(line) for line in budget_lines(session, project.id)],
        campaigns=[campaign_out(c) for c in campaigns_of_project(session, project.id)],
    )


def pot_out(pot: Pot, left_fen: int) -> PotOut:
    return PotOut(
        id=pot.id,
        campaign_id=pot.campaign_id,
        sponsor=pot.sponsor,
        rule=pot.rule,
        total_fen=pot.total_fen,
        remaining_fen=left_fen,
    )


def campaign_detail_out(session: Session, campaign: Campaign) -> CampaignDetailOut:
    pots = pots_of(session, campaign.id)
    left = pots_left(session, [pot.id for pot in pots])
    return CampaignDetailOut(
        **campaign_out(campaign).model_dump(),
        pots=[pot_out(pot, left[pot.id]) for pot in pots],
        project_ids=[p.id for p in projects_of_campaign(session, campaign.id)],
    )


def _match_summary(matches: list[Match]) -> tuple[int, str | None]:
    """What a donation's matches add up to (those not taken back) and the state a donor cares
    about: held for review if any is, else matched, else taken back."""
    kept = [m for m in matches if m.status != MatchStatus.clawed_back]
    statuses = {m.status for m in matches}
    for status in (MatchStatus.frozen, MatchStatus.credited, MatchStatus.clawed_back):
        if status in statuses:
            return sum(m.amount_fen for m in kept), str(status)
    return 0, None


def donation_out(session: Session, donation: Donation) -> DonationOut:
    payment = payments.payment_of(session, donation.payment_id)
    payable = (
        payment is not None
        and donation.status == DonationStatus.pending
        and payment.expires_at > utcnow()
    )
    matched_fen, match_status = _match_summary(matches_of_donation(session, donation.id))
    return DonationOut(
        code=donation.code,
        project_id=donation.project_id,
        fund_id=donation.fund_id,
        amount_fen=donation.amount_fen,
        anonymous=donation.anonymous,
        status=donation.status,
        created_at=donation.created_at,
        paid_at=donation.paid_at,
        checkout_href=payments.checkout_href(payment) if payable and payment else None,
        matched_fen=matched_fen,
        match_status=match_status,
    )


def public_donation_out(donation: Donation, donor_name: str) -> PublicDonationOut:
    """Never the donor's name in full, never a phone number; an anonymous gift names no one."""
    return PublicDonationOut(
        donor=gettext(ANONYMOUS_DONOR) if donation.anonymous else mask_name(donor_name),
        amount_fen=donation.amount_fen,
        message=donation.message,
        paid_at=donation.paid_at,
    )


def match_out(session: Session, match: Match) -> MatchOut:
    code = session.scalar(select(Donation.code).where(Donation.id == match.donation_id)) or ""
    return MatchOut(
        id=match.id,
        pot_id=match.pot_id,
        donation_code=code,
        project_id=match.project_id,
        amount_fen=match.amount_fen,
        ratio_pct=match.ratio_pct,
        status=match.status,
        signals=list(match.signals or []),
    )


def ledger_entry_out(entry: LedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut.model_validate(entry)


def recurring_out(gift: RecurringGift) -> RecurringGiftOut:
    return RecurringGiftOut.model_validate(gift)


def expense_out(session: Session, expense: Expense) -> ExpenseOut:
    return ExpenseOut(
        id=expense.id,
        project_id=expense.project_id,
        budget_line_id=expense.budget_line_id,
        amount_fen=expense.amount_fen,
        payee=expense.payee,
        description=expense.description,
        invoice_number=expense.invoice_number,
        invoice_file_id=expense.invoice_file_id,
        status=expense.status,
        submitted_by=expense.submitted_by,
        approvals=len(approvals_of(session, expense.id)),
        created_at=expense.created_at,
        submitted_at=expense.submitted_at,
        decided_at=expense.decided_at,
        paid_at=expense.paid_at,
        rejection_reason=expense.rejection_reason,
    )


def fund_out(fund: Fund) -> FundOut:
    return FundOut.model_validate(fund)


def call_out(call: FundCall) -> FundCallOut:
    return FundCallOut.model_validate(call)


def fund_detail_out(session: Session, fund: Fund) -> FundDetailOut:
    return FundDetailOut(
        **fund_out(fund).model_dump(), calls=[call_out(c) for c in calls_of(session, fund.id)]
    )


def proposal_out(proposal: Proposal) -> ProposalOut:
    return ProposalOut.model_validate(proposal)


def report_out(report: GrantReport) -> GrantReportOut:
    return GrantReportOut.model_validate(report)
