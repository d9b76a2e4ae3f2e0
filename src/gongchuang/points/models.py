"""Tables of village points governance (村级事务积分制管理).

Balances, stock and the reward fund are ledgers: rows are only ever added; a correction is a
reversing entry. The cached `balance` and `stock` columns move only together with an entry, by a
conditional UPDATE that cannot take them below zero.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Base
from gongchuang.core.i18n import N_
from gongchuang.core.models import BigId, Person


class AccountUnit(enum.StrEnum):
    household = "household"
    person = "person"


UNIT_LABELS = {AccountUnit.household: N_("By household"), AccountUnit.person: N_("By person")}


class ResetPeriod(enum.StrEnum):
    none = "none"
    month = "month"
    quarter = "quarter"
    year = "year"


PERIOD_LABELS = {
    ResetPeriod.month: N_("month"),
    ResetPeriod.quarter: N_("quarter"),
    ResetPeriod.year: N_("year"),
    ResetPeriod.none: N_("never"),
}


class Reporter(enum.StrEnum):
    """Who may put a record under a rule."""

    self = "self"
    cadre = "cadre"
    group_leader = "group_leader"
    grid_worker = "grid_worker"


REPORTER_LABELS = {
    Reporter.self: N_("Villagers themselves"),
    Reporter.cadre: N_("Cadres"),
    Reporter.group_leader: N_("Group leaders"),
    Reporter.grid_worker: N_("Grid workers"),
}
# Who a pending record waits for, as villagers say it (never "level 1").
REVIEW_LABELS = {
    Reporter.group_leader: N_("awaiting the group leader's review"),
    Reporter.cadre: N_("awaiting the village cadres' review"),
    Reporter.grid_worker: N_("awaiting the grid worker's review"),
}


class RecordStatus(enum.StrEnum):
    pending = "pending"  # waiting at approval step `approval_step`
    returned = "returned"  # sent back for more evidence
    rejected = "rejected"
    in_notice = "in_notice"  # approved and on the public board
    settled = "settled"  # counted into the balance
    cancelled = "cancelled"  # an upheld objection struck it before settlement
    reversed = "reversed"  # settled, then corrected by a reversing entry


STATUS_LABELS = {
    RecordStatus.pending: N_("Waiting for approval"),
    RecordStatus.returned: N_("Returned for more evidence"),
    RecordStatus.rejected: N_("Rejected"),
    RecordStatus.in_notice: N_("On public notice"),
    RecordStatus.settled: N_("Settled"),
    RecordStatus.cancelled: N_("Struck out after an objection"),
    RecordStatus.reversed: N_("Reversed"),
}


class RuleCatalogue(Base):
    """A village's points scheme: its rules and how they are applied."""

    __tablename__ = "points_catalogue"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    # "<village's name>积分细则": as long as an organisation's name (200) and the suffix.
    name: Mapped[str] = mapped_column(String(210))
    template_code: Mapped[str] = mapped_column(String(32), default="")
    account_unit: Mapped[str] = mapped_column(String(16), default=AccountUnit.household)
    notice_days: Mapped[int] = mapped_column(Integer, default=7)
    # Role codes, one per approval level, in order (e.g. group leader, then cadre).
    approval_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    reset_period: Mapped[str] = mapped_column(String(16), default=ResetPeriod.none)
    base_points: Mapped[int] = mapped_column(Integer, default=0)
    min_redeem_balance: Mapped[int] = mapped_column(Integer, default=0)
    # [{"name": "五星文明户", "min_points": 300}, ...] on the points earned this year.
    star_tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The rule under which verified volunteer hours become records ("" for none).
    volunteer_rule_code: Mapped[str] = mapped_column(String(32), default="")
    # The period whose base points were last granted ("2026Q4"), so a rollover runs once.
    current_period: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleCategory(Base):
    __tablename__ = "points_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    catalogue_id: Mapped[int] = mapped_column(ForeignKey("points_catalogue.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)


class PointRule(Base):
    """One version of a rule. Editing makes a new version; records keep the one they used."""

    __tablename__ = "points_rule"
    __table_args__ = (
        UniqueConstraint("catalogue_id", "code", "version"),
        Index("ix_points_rule_current", "catalogue_id", "is_current"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    catalogue_id: Mapped[int] = mapped_column(ForeignKey("points_catalogue.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("points_category.id"))
    code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int] = mapped_column(Integer)
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=False)
    cap_count: Mapped[int | None] = mapped_column(Integer)
    cap_period: Mapped[str] = mapped_column(String(16), default=ResetPeriod.month)
    reporters: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    category: Mapped[RuleCategory] = relationship(lazy="raise")


class Household(Base):
    """一户一档: a household's file; its members' records count to it."""

    __tablename__ = "points_household"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    head_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # Printed as a QR code on the household's card, for members without a phone.
    card_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HouseholdMember(Base):
    __tablename__ = "points_household_member"
    __table_args__ = (UniqueConstraint("organisation_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("points_household.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(lazy="raise")


class PointsAccount(Base):
    """Whose balance: a household (h:ID) or a person (p:ID) in one village."""

    __tablename__ = "points_account"
    __table_args__ = (
        UniqueConstraint("organisation_id", "holder_key"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    holder_key: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("points_household.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    balance: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntryKind(enum.StrEnum):
    settlement = "settlement"
    reversal = "reversal"
    base = "base"
    reset = "reset"
    redemption = "redemption"
    redemption_cancelled = "redemption_cancelled"


ENTRY_LABELS = {
    EntryKind.settlement: N_("Settled record"),
    EntryKind.reversal: N_("Reversal"),
    EntryKind.base: N_("Base points"),
    EntryKind.reset: N_("Period reset"),
    EntryKind.redemption: N_("Redeemed"),
    EntryKind.redemption_cancelled: N_("Redemption cancelled"),
}


class PointsEntry(Base):
    """The points ledger. Never updated, never deleted."""

    __tablename__ = "points_entry"
    __table_args__ = (Index("ix_points_entry_account_time", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("points_account.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("points_record.id"), index=True)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("points_redemption.id"))
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("points_entry.id"))
    note: Mapped[str] = mapped_column(String(300), default="")
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PublicNotice(Base):
    """公示: the records a village approved on one day, posted for `notice_days`."""

    __tablename__ = "points_notice"
    __table_args__ = (UniqueConstraint("organisation_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    settled_at: Mapped[datetime | None]


class PointRecord(Base):
    """积分记录: one claim of points for one behaviour of one person."""

    __tablename__ = "points_record"
    __table_args__ = (
        Index("ix_points_record_village_status", "organisation_id", "status"),
        Index("ix_points_record_person_rule", "person_id", "rule_code", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("points_rule.id"))
    rule_code: Mapped[str] = mapped_column(String(32))
    category_id: Mapped[int] = mapped_column(ForeignKey("points_category.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("points_household.id"))
    points: Mapped[int] = mapped_column(Integer)
    original_points: Mapped[int] = mapped_column(Integer)
    occurred_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    evidence_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    reported_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    # A cadre recorded this for a villager without a smartphone.
    on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)
    batch_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.pending)
    approval_step: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("points_notice.id"), index=True)
    settled_at: Mapped[datetime | None]

    rule: Mapped[PointRule] = relationship(lazy="raise")
    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="raise")


class Decision(enum.StrEnum):
    approve = "approve"
    reject = "reject"
    return_ = "return"


DECISION_LABELS = {
    Decision.approve: N_("Approved"),
    Decision.reject: N_("Rejected"),
    Decision.return_: N_("Returned for more evidence"),
}


class Approval(Base):
    """审核: one decision at one approval level."""

    __tablename__ = "points_approval"
    __table_args__ = (
        # Nobody approves a record twice, at one level or two (the service checks first, under
        # the record's lock); the database holds it for any path that forgets.
        Index(
            "uq_points_approval_approver",
            "record_id",
            "decided_by_person_id",
            unique=True,
            sqlite_where=text("decision = 'approve'"),
            postgresql_where=text("decision = 'approve'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("points_record.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    decided_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ObjectionStatus(enum.StrEnum):
    open = "open"
    upheld = "upheld"
    dismissed = "dismissed"


class Objection(Base):
    """异议: a villager questions a record on the public board."""

    __tablename__ = "points_objection"
    __table_args__ = (
        # One open objection per villager and record, held by the database (a double tap sends
        # two at once); once decided, the villager may object again.
        Index(
            "uq_points_objection_open",
            "record_id",
            "objector_person_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("points_record.id"), index=True)
    objector_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ObjectionStatus.open)
    answer: Mapped[str] = mapped_column(Text, default="")
    # When upheld: the record's points afterwards (0 strikes it out).
    adjusted_points: Mapped[int | None] = mapped_column(Integer)
    decided_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class ShopItem(Base):
    """A good in the points supermarket."""

    __tablename__ = "points_shop_item"
    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(300), default="")
    price_points: Mapped[int] = mapped_column(Integer)
    # What the reward fund pays the shop for one unit handed out.
    unit_cost_fen: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockMovement(Base):
    __tablename__ = "points_stock_movement"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("points_shop_item.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("points_redemption.id"))
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RewardFundEntry(Base):
    """奖励基金: donations in (+), payments for redeemed goods out (-), in fen."""

    __tablename__ = "points_fund_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    counterparty: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(String(300), default="")
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("points_redemption.id"))
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RedemptionStatus(enum.StrEnum):
    awaiting_handover = "awaiting_handover"
    handed_over = "handed_over"
    cancelled = "cancelled"


REDEMPTION_LABELS = {
    RedemptionStatus.awaiting_handover: N_("Waiting for hand-over"),
    RedemptionStatus.handed_over: N_("Handed over"),
    RedemptionStatus.cancelled: N_("Cancelled"),
}


class Redemption(Base):
    __tablename__ = "points_redemption"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("points_account.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("points_shop_item.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    cost_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24), default=RedemptionStatus.awaiting_handover)
    requested_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    via_card: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handed_over_at: Mapped[datetime | None]
    handed_over_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    item: Mapped[ShopItem] = relationship(lazy="raise")


class MonthlyStat(Base):
    """Settled records summed per village, month and category: what dashboards read, so a
    county of 300 villages does not scan millions of records."""

    __tablename__ = "points_monthly_stat"
    __table_args__ = (
        UniqueConstraint("organisation_id", "month", "category_id"),
        Index("ix_points_monthly_stat_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    month: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int] = mapped_column(ForeignKey("points_category.id"))
    records: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(Integer, default=0)
    approval_seconds: Mapped[int] = mapped_column(BigId, default=0)


class MonthlyParticipation(Base):
    """How many people of a village had a record settled in a month."""

    __tablename__ = "points_monthly_participation"
    __table_args__ = (UniqueConstraint("organisation_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    month: Mapped[date] = mapped_column(Date, index=True)
    participants: Mapped[int] = mapped_column(Integer, default=0)


class MonthlyParticipant(Base):
    """Who took part in a village's month, so participation counts each person once."""

    __tablename__ = "points_monthly_participant"
    __table_args__ = (UniqueConstraint("organisation_id", "month", "person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    month: Mapped[date] = mapped_column(Date)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
