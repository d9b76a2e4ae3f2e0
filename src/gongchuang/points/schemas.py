"""Pydantic shapes of the points API (what a WeChat mini-program front end talks to)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gongchuang.core.schemas import IdField

Points = Annotated[int, Field(ge=-1000, le=1000)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
RuleCode = Annotated[str, Field(min_length=1, max_length=32)]
ReporterCode = Literal["self", "cadre", "group_leader", "grid_worker"]
CapPeriod = Literal["month", "quarter", "year"]


class StarTier(BaseModel):
    name: str = Field(min_length=1, max_length=30)
    min_points: int = Field(ge=1, le=1_000_000)


class CatalogueIn(BaseModel):
    template: Literal["youxiqiao", "guangdong"] = Field(
        description="Example catalogue to copy: Youxiqiao (households, two levels) or Guangdong"
    )
    account_unit: Literal["household", "person"] | None = None


class SettingsIn(BaseModel):
    account_unit: Literal["household", "person"] | None = None
    notice_days: int | None = Field(None, ge=1, le=30)
    approval_roles: list[Literal["cadre", "group_leader", "grid_worker"]] | None = Field(
        None, min_length=1, max_length=3, description="One role per approval level, in order"
    )
    reset_period: Literal["none", "month", "quarter", "year"] | None = None
    base_points: int | None = Field(None, ge=0, le=100_000)
    min_redeem_balance: int | None = Field(None, ge=0, le=100_000)
    star_tiers: list[StarTier] | None = Field(None, max_length=10)
    volunteer_rule_code: str | None = Field(
        None, max_length=32, description="Rule for verified volunteer hours; empty for none"
    )


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int


class CategoryIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class RuleIn(BaseModel):
    category_id: IdField
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    points: Points
    evidence_required: bool = False
    cap_count: int | None = Field(None, ge=1, le=1000)
    cap_period: CapPeriod = "month"
    reporters: list[ReporterCode] = Field(min_length=1, max_length=4)


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    version: int
    category_id: int
    title: str
    description: str
    points: int
    evidence_required: bool
    cap_count: int | None
    cap_period: str
    reporters: list[str]
    active: bool


class CatalogueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    name: str
    template_code: str
    account_unit: str
    notice_days: int
    approval_roles: list[str]
    reset_period: str
    base_points: int
    min_redeem_balance: int
    star_tiers: list[StarTier]
    volunteer_rule_code: str
    categories: list[CategoryOut] = []
    rules: list[RuleOut] = []


class RuleActiveIn(BaseModel):
    active: bool


class HouseholdIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    member_phones: list[Annotated[str, Field(min_length=1, max_length=20)]] = Field(
        min_length=1, max_length=30, description="The first is the head of the household"
    )


class HouseholdMemberIn(BaseModel):
    phone: str = Field(min_length=1, max_length=20)


class HouseholdOut(BaseModel):
    id: int
    name: str
    head_person_id: int | None
    members: list[str] = Field(description="Members' names")
    account_id: int | None
    balance: int


class RecordIn(BaseModel):
    rule_code: RuleCode
    person_id: IdField | None = Field(None, description="Whom the record is for; omit for yourself")
    occurred_on: date
    note: str = Field("", max_length=1000)
    evidence_file_id: IdField | None = Field(
        None, description="A photo uploaded first through POST /api/v1/files"
    )
    on_behalf: bool = Field(
        False, description="A cadre records a self-report for a villager without a smartphone"
    )


class BatchIn(BaseModel):
    rule_code: RuleCode
    person_ids: list[IdField] = Field(min_length=1, max_length=2000)
    occurred_on: date
    note: str = Field("", max_length=1000)


class RecordOut(BaseModel):
    id: int
    organisation_id: int
    rule_code: str
    rule_version: int
    rule_title: str
    person_id: int
    person_name: str
    household_id: int | None
    points: int
    original_points: int
    occurred_on: date
    note: str
    status: str
    approval_step: int
    on_behalf: bool
    has_evidence: bool
    submitted_at: datetime
    approved_at: datetime | None
    notice_id: int | None
    settled_at: datetime | None


class DecisionIn(BaseModel):
    decision: Literal["approve", "reject", "return"]
    reason: str = Field("", max_length=1000, description="Required to reject or return")


class ResubmitIn(BaseModel):
    note: str = Field("", max_length=1000)
    evidence_file_id: IdField | None = None


class ReasonIn(BaseModel):
    reason: Reason


class ObjectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    record_id: int
    objector_person_id: int
    reason: str
    status: str
    answer: str
    adjusted_points: int | None
    raised_at: datetime
    decided_at: datetime | None


class ObjectionDecisionIn(BaseModel):
    uphold: bool
    answer: str = Field(min_length=1, max_length=2000)
    adjusted_points: Points | None = Field(
        None, description="When upheld: the record's new points; 0 or omitted strikes it out"
    )


class NoticeOut(BaseModel):
    id: int
    number: str
    opens_at: datetime
    closes_at: datetime
    settled_at: datetime | None
    is_open: bool
    records: list[RecordOut]


class AccountOut(BaseModel):
    id: int
    label: str
    household_id: int | None
    person_id: int | None
    balance: int
    star_tier: str


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    delta: int
    kind: str
    record_id: int | None
    redemption_id: int | None
    reverses_entry_id: int | None
    note: str
    created_at: datetime


class RankOut(BaseModel):
    rank: int
    account_id: int
    label: str
    points: int
    year_points: int
    tier: str


class ShopItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=300)
    price_points: int = Field(ge=1, le=100_000)
    unit_cost_fen: int = Field(ge=0, le=100_000_000, description="What the fund pays per unit")
    stock: int = Field(0, ge=0, le=100_000)


class ShopItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    price_points: int
    unit_cost_fen: int
    stock: int
    active: bool


class RestockIn(BaseModel):
    quantity: int = Field(ge=-100_000, le=100_000, description="Negative writes goods off")


class DonationIn(BaseModel):
    amount_fen: int = Field(ge=1, le=100_000_000)
    donor: str = Field(min_length=1, max_length=100)
    note: str = Field("", max_length=300)


class FundOut(BaseModel):
    balance_fen: int
    donated_fen: int
    spent_fen: int
    monthly_spend_fen: int
    months_left: float | None = Field(description="At the last three months' rate; null if idle")


class RedemptionIn(BaseModel):
    item_id: IdField
    quantity: int = Field(1, ge=1, le=20)
    account_id: IdField | None = Field(
        None, description="Omit to use your own (or your household's) account"
    )
    card_code: str | None = Field(
        None, max_length=32, description="A shopkeeper redeeming for a household's printed card"
    )


class RedemptionOut(BaseModel):
    id: int
    account_id: int
    item_id: int
    item_name: str
    quantity: int
    points: int
    cost_fen: int
    status: str
    via_card: bool
    created_at: datetime
    handed_over_at: datetime | None


class VillageFiguresOut(BaseModel):
    village_id: int
    name: str
    records: int
    points: int
    participation: float = Field(description="Average monthly share of members taking part, %")
    approval_hours: float
    members: int
    objections: int
    upheld: int


class DashboardOut(BaseModel):
    title: str
    year: int
    months: list[str]
    totals: VillageFiguresOut
    points_by_category: dict[str, list[int]]
    participation_by_month: list[float]
    latency_by_month: list[float]
    villages: list[VillageFiguresOut]
    fund: FundOut | None = None


class SettlementOut(BaseModel):
    notices: int
    records: int
    points: int


class VillageOut(BaseModel):
    id: int
    name: str
    region_code: str
    account_unit: str
    my_account_id: int | None
    my_balance: int | None
    my_roles: list[str]
