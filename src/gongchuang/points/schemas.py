"""Pydantic shapes of the points API (what a WeChat mini-program front end talks to).

The `*In` models are also the commands the service takes: a page parses its form into the same
model (`parse`) as the API takes for its body, so that a page and the API doing the same thing
are checked the same way. The service keeps only the checks that need the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from gongchuang.core.errors import InvalidInput, validation_message
from gongchuang.core.i18n import N_
from gongchuang.core.schemas import IdField
from gongchuang.core.text import has_control_characters

MAX_QUANTITY = 20  # goods of one kind in one redemption
MAX_BATCH = 2000  # records reported, or approved, at once
MAX_POINTS = 1000  # what one record (a rule, an adjustment) gives or takes at most
MAX_FEN = 100_000_000  # one million yuan in one entry is a typing error

Points = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
RuleCode = Annotated[str, Field(min_length=1, max_length=32)]
ReporterCode = Literal["self", "cadre", "group_leader", "grid_worker"]
CapPeriod = Literal["month", "quarter", "year"]

M = TypeVar("M", bound=BaseModel)


def parse(
    model: type[M],
    values: Mapping[str, Any],
    refused: str = N_("Some of the input is not valid"),
    *,
    names: Mapping[str, str] | None = None,
) -> M:
    """A page's form (or a caller's keywords) read into the command the API takes. Refused as
    the platform refuses a request that does not validate: each field's problem in plain words,
    under `refused`, named as the form names the field (`names`: the model's name -> the form's,
    where they differ)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "body"
            if names and e["loc"] and str(e["loc"][0]) in names:
                field = names[str(e["loc"][0])]
            error = dict(e)
            if (
                e["type"] in ("string_too_short", "too_short")
                and (e.get("ctx") or {}).get("min_length") == 1
            ):
                error = {"type": "missing"}  # an empty box, said as a form says it
            errors.append({"field": field, "message": validation_message(error)})
    raise InvalidInput(refused, errors=errors)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _no_control_characters(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("control characters")
    return value


PlainName = Annotated[
    str,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=30),
    AfterValidator(_no_control_characters),
]


class StarTier(BaseModel):
    name: PlainName
    min_points: int = Field(ge=1, le=1_000_000)


class CatalogueIn(BaseModel):
    template: Literal["youxiqiao", "guangdong"] = Field(
        description="Example catalogue to copy: Youxiqiao (households, two levels) or Guangdong"
    )
    account_unit: Literal["household", "person"] | None = None


SETTINGS_REFUSED = N_("Some settings are not valid; nothing was changed")


class SettingsIn(BaseModel):
    """Settings to change; what is left out (null) stays as it is."""

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

    @field_validator("star_tiers")
    @classmethod
    def _lowest_first(cls, tiers: list[StarTier] | None) -> list[StarTier] | None:
        return None if tiers is None else sorted(tiers, key=lambda t: (t.min_points, t.name))


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int


class CategoryIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


RULE_REFUSED = N_("The rule is not valid; nothing was changed")


class RuleIn(BaseModel):
    """A rule to add, or a rule's next version."""

    category_id: IdField
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    points: Points
    evidence_required: bool = False
    cap_count: int | None = Field(None, ge=1, le=1000)
    cap_period: CapPeriod = "month"
    reporters: list[ReporterCode] = Field(min_length=1, max_length=4)

    @field_validator("points")
    @classmethod
    def _not_zero(cls, points: int) -> int:
        if points == 0:
            raise ValueError("a rule gives or takes points")
        return points

    @field_validator("reporters")
    @classmethod
    def _each_once(cls, reporters: list[str]) -> list[str]:
        return sorted(set(reporters))


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
    person_ids: list[IdField] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("person_ids")
    @classmethod
    def _each_once(cls, person_ids: list[int]) -> list[int]:
        return list(dict.fromkeys(person_ids))  # one record each, whoever was ticked twice

    occurred_on: date
    note: str = Field("", max_length=1000)


def _present(value: Any) -> bool:
    """Whether a record has something (its evidence file's id), read from the record; a bool
    is already the answer (the model read back from its own fields)."""
    return value if isinstance(value, bool) else value is not None


class RecordOut(BaseModel):
    """A record as the API shows it, read from the record and its rule and person."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: int
    organisation_id: int
    rule_code: str
    rule_version: int = Field(validation_alias=AliasPath("rule", "version"))
    rule_title: str = Field(validation_alias=AliasPath("rule", "title"))
    person_id: int
    person_name: str = Field(validation_alias=AliasPath("person", "name"))
    household_id: int | None
    points: int
    original_points: int
    occurred_on: date
    note: str
    status: str
    approval_step: int
    on_behalf: bool
    has_evidence: Annotated[bool, BeforeValidator(_present)] = Field(
        validation_alias="evidence_file_id"
    )
    submitted_at: datetime
    approved_at: datetime | None
    notice_id: int | None
    settled_at: datetime | None


DECISION_REFUSED = N_("Approve, reject, or return for more evidence")


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
    model_config = ConfigDict(from_attributes=True)

    rank: int
    account_id: int
    label: str
    points: int
    year_points: int
    tier: str


ITEM_REFUSED = N_("The item is not valid; nothing was changed")


class ShopItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=300)
    price_points: int = Field(ge=1, le=100_000)
    unit_cost_fen: int = Field(ge=0, le=MAX_FEN, description="What the fund pays per unit")
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
    amount_fen: int = Field(ge=1, le=MAX_FEN)
    donor: str = Field(min_length=1, max_length=100)
    note: str = Field("", max_length=300)


class FundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    balance_fen: int
    donated_fen: int
    spent_fen: int
    monthly_spend_fen: int
    months_left: float | None = Field(description="At the last three months' rate; null if idle")


class RedemptionIn(BaseModel):
    item_id: IdField
    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)
    account_id: IdField | None = Field(
        None, description="Omit to use your own (or your household's) account"
    )
    card_code: str | None = Field(
        None, max_length=32, description="A shopkeeper redeeming for a household's printed card"
    )


class RedemptionOut(BaseModel):
    """A redemption as the API shows it, read from the redemption and its item."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: int
    account_id: int
    item_id: int
    item_name: str = Field(validation_alias=AliasPath("item", "name"))
    quantity: int
    points: int
    cost_fen: int
    status: str
    via_card: bool
    created_at: datetime
    handed_over_at: datetime | None


class VillageFiguresOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    model_config = ConfigDict(from_attributes=True)

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
    model_config = ConfigDict(from_attributes=True)

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
