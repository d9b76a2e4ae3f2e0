"""What the charity API accepts and returns. The `...In` models are also what the pages read
their forms into: one input contract per use case (a page that takes yuan converts to fen before
the model sees it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gongchuang.core.errors import RuleBroken
from gongchuang.core.i18n import N_
from gongchuang.core.schemas import IdField

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Text200 = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]
Text500 = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)]
Text5000 = Annotated[str, StringConstraints(max_length=5000, strip_whitespace=True)]
Fen = Annotated[int, Field(ge=1, le=100_000_000_00)]  # up to 100 million yuan
BigFen = Annotated[int, Field(ge=1, le=10_000_000_000_00)]  # a giving day's pot: ¥10 billion

# One donation: at least ¥0.01 (a "little red flower" is a cent), at most what one WeChat Pay
# order may carry for a person (¥50,000 here; larger gifts go by bank transfer with a contract).
MIN_DONATION_FEN = 1
MAX_DONATION_FEN = 5_000_000


# --- charities, projects, budget lines -------------------------------------------------------


class CharityIn(BaseModel):
    organisation_id: IdField
    # 统一社会信用代码: 18 characters of digits and capitals (no I, O, S, V, Z).
    registration_number: Annotated[
        str, StringConstraints(pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
    ]
    expense_approvers: int = Field(2, ge=1, le=5)


class CertificationIn(BaseModel):
    certification: Literal["certified", "suspended"]


class BudgetLineIn(BaseModel):
    name: Name
    budget_fen: Fen


class ProjectIn(BaseModel):
    title: Name
    summary: Text5000 = ""
    region_id: IdField
    goal_fen: Fen
    budget_lines: Annotated[list[BudgetLineIn], Field(min_length=1, max_length=30)]

    @model_validator(mode="after")
    def _budget_within_goal(self) -> ProjectIn:
        names = [line.name for line in self.budget_lines]
        if len(set(names)) != len(names):
            raise RuleBroken(N_("Each budget line needs a name of its own"))
        if sum(line.budget_fen for line in self.budget_lines) > self.goal_fen:
            raise RuleBroken(N_("The budget lines add up to more than the goal"))
        return self


class ProjectStatusIn(BaseModel):
    status: Literal["open", "closed"]


# --- campaigns and pots -----------------------------------------------------------------------


class CampaignIn(BaseModel):
    name: Name
    kind: Literal["giving_day", "daily_match", "regional"]
    description: Text5000 = ""
    region_id: IdField | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _window(self) -> CampaignIn:
        if self.ends_at <= self.starts_at:
            raise RuleBroken(N_("The campaign must end after it starts"))
        if self.kind == "regional" and self.region_id is None:
            raise RuleBroken(N_("A regional special needs its region"))
        return self


class PotIn(BaseModel):
    sponsor: Name
    total_fen: BigFen
    rule: Literal["fixed", "random", "quadratic"] = "fixed"
    ratio_min_pct: int = Field(100, ge=1, le=1000)
    ratio_max_pct: int = Field(100, ge=1, le=1000)
    min_donation_fen: int = Field(100, ge=1, le=MAX_DONATION_FEN)
    max_match_fen: Fen | None = None
    daily_budget_fen: BigFen | None = None
    cap_donor_day_fen: Fen | None = None
    cap_project_fen: BigFen | None = None
    cap_organisation_fen: BigFen | None = None

    @model_validator(mode="after")
    def _ratios(self) -> PotIn:
        if self.ratio_max_pct < self.ratio_min_pct:
            raise RuleBroken(N_("The highest ratio is below the lowest"))
        if self.rule == "fixed" and self.ratio_max_pct != self.ratio_min_pct:
            self.ratio_max_pct = self.ratio_min_pct
        return self


# --- giving -----------------------------------------------------------------------------------


class DonateIn(BaseModel):
    amount_fen: int = Field(ge=MIN_DONATION_FEN, le=MAX_DONATION_FEN)
    anonymous: bool = False
    message: Text200 = ""
    # The campaign whose pots may match it (a project page opened from a campaign).
    campaign_id: IdField | None = None


class RecurringIn(BaseModel):
    amount_fen: int = Field(ge=100, le=MAX_DONATION_FEN)
    day_of_month: int = Field(ge=1, le=28)
    anonymous: bool = False


class ReviewIn(BaseModel):
    decision: Literal["release", "claw_back"]
    note: Text500 = ""


class ClawBackIn(BaseModel):
    note: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


class RefundDonationIn(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=80, strip_whitespace=True)]


# --- spending ---------------------------------------------------------------------------------


class ExpenseIn(BaseModel):
    budget_line_id: IdField
    amount_fen: Fen
    payee: Name
    description: Annotated[
        str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)
    ]
    invoice_number: Annotated[str, StringConstraints(max_length=40, strip_whitespace=True)] = ""
    invoice_file_id: IdField | None = None


class RejectIn(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


# --- community funds --------------------------------------------------------------------------


class FundIn(BaseModel):
    organisation_id: IdField
    name: Name
    description: Text5000 = ""
    region_id: IdField


class FundCallIn(BaseModel):
    title: Name
    description: Text5000 = ""
    budget_fen: BigFen
    opens_at: AwareDatetime
    closes_at: AwareDatetime

    @model_validator(mode="after")
    def _window(self) -> FundCallIn:
        if self.closes_at <= self.opens_at:
            raise RuleBroken(N_("The call must close after it opens"))
        return self


class ProposalIn(BaseModel):
    organisation_id: IdField
    title: Name
    plan: Annotated[str, StringConstraints(min_length=1, max_length=5000, strip_whitespace=True)]
    requested_fen: Fen


class ProposalDecisionIn(BaseModel):
    decision: Literal["grant", "decline"]
    granted_fen: Fen | None = None
    note: Text500 = ""

    @model_validator(mode="after")
    def _amount(self) -> ProposalDecisionIn:
        if self.decision == "grant" and self.granted_fen is None:
            raise RuleBroken(N_("A grant needs its amount"))
        return self


class GrantReportIn(BaseModel):
    text: Annotated[str, StringConstraints(min_length=1, max_length=5000, strip_whitespace=True)]
    spent_fen: int = Field(0, ge=0, le=100_000_000_00)
    file_id: IdField | None = None


# --- what the API answers ---------------------------------------------------------------------


class FromRow(BaseModel):
    """An answer read straight from a row's attributes (`Model.model_validate(row)`)."""

    model_config = ConfigDict(from_attributes=True)


class ProjectOut(FromRow):
    id: int
    charity_id: int
    title: str
    summary: str
    region_id: int
    goal_fen: int
    status: str
    raised_fen: int
    matched_fen: int
    spent_fen: int
    donors_count: int


class DonationOut(BaseModel):
    code: str
    project_id: int | None
    fund_id: int | None
    amount_fen: int
    anonymous: bool
    status: str
    created_at: datetime
    paid_at: datetime | None
    # Where to pay while it is waiting for payment.
    checkout_href: str | None = None
    matched_fen: int = 0
    match_status: str | None = None


class MatchOut(BaseModel):
    id: int
    pot_id: int
    donation_code: str
    project_id: int
    amount_fen: int
    ratio_pct: int
    status: str
    signals: list[str]


class LedgerEntryOut(FromRow):
    id: int
    movement: str
    kind: str
    side: str
    account: str
    amount_fen: int
    memo: str
    occurred_at: datetime


class PotOut(BaseModel):
    id: int
    campaign_id: int
    sponsor: str
    rule: str
    total_fen: int
    remaining_fen: int


# --- more of what the API answers -------------------------------------------------------------


class CharityOut(FromRow):
    id: int
    organisation_id: int
    registration_number: str
    certification: str
    region_id: int
    expense_approvers: int


class BudgetLineOut(FromRow):
    id: int
    project_id: int
    name: str
    budget_fen: int
    committed_fen: int


class CampaignOut(FromRow):
    id: int
    organisation_id: int
    name: str
    kind: str
    description: str
    region_id: int | None
    starts_at: datetime
    ends_at: datetime


class ProjectDetailOut(ProjectOut):
    budget_lines: list[BudgetLineOut]
    campaigns: list[CampaignOut]


class CampaignDetailOut(CampaignOut):
    pots: list[PotOut]
    project_ids: list[int]


class PublicDonationOut(BaseModel):
    """A paid donation as the public sees it: the donor's name masked, or not named at all."""

    donor: str
    amount_fen: int
    message: str
    paid_at: datetime | None


class RecurringGiftOut(FromRow):
    id: int
    project_id: int
    amount_fen: int
    anonymous: bool
    day_of_month: int
    next_due_on: date
    cancelled_at: datetime | None


class ExpenseOut(BaseModel):
    id: int
    project_id: int
    budget_line_id: int
    amount_fen: int
    payee: str
    description: str
    invoice_number: str
    invoice_file_id: int | None
    status: str
    submitted_by: int
    approvals: int
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    paid_at: datetime | None
    rejection_reason: str


class FundOut(FromRow):
    id: int
    organisation_id: int
    region_id: int
    name: str
    description: str
    received_fen: int
    granted_fen: int


class FundCallOut(FromRow):
    id: int
    fund_id: int
    title: str
    description: str
    budget_fen: int
    granted_fen: int
    opens_at: datetime
    closes_at: datetime


class FundDetailOut(FundOut):
    calls: list[FundCallOut]


class ProposalOut(FromRow):
    id: int
    call_id: int
    organisation_id: int
    title: str
    plan: str
    requested_fen: int
    granted_fen: int | None
    status: str
    decision_note: str
    created_at: datetime
    decided_at: datetime | None


class GrantReportOut(FromRow):
    id: int
    proposal_id: int
    text: str
    spent_fen: int
    file_id: int | None
    created_at: datetime


class ShareOutOut(BaseModel):
    """What a quadratic pot gave each project when shared out."""

    pot_id: int
    shares: dict[int, int]
