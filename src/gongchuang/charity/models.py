"""Tables of charity with matched giving (公益 projects, 配捐 pots, 社区基金).

A registered charity (`Charity`, one per organisation) publishes projects (`Project`) with
budget lines; the public donates (`Donation`, paid through core payments); a campaign
(`Campaign`: a giving day, a daily "little red flower" match, a regional special) carries
matching pots (`Pot`) that add to donations by their terms (`service.rules`).

What a pot gives is held by the database, not by a check in the code: what is left in each
slice of the pot (`PotShard`) and every cap's counter (`MatchCounter`: per day of the pot, per
donor per day, per project, per organisation) only move by conditional UPDATEs under CHECK
constraints, and a donor gets one match per project per pot (a unique index). A match whose
donation looks like gaming is frozen (`Match.status`) until a reviewer releases it or claws it back.

Money is followed from donation to expense in an append-only double-entry ledger
(`LedgerEntry`): each movement is one debit and one credit of the same amount, a correction is
a movement of its own. Expenses (`Expense`) are approved by several people, never by the one
who submitted them, and never commit more than their budget line holds.

Community funds (`Fund`, 五社联动) take contributions like a project, open calls for proposals
(`FundCall`), and grant community organisations (`Proposal` → granted) what they have received.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Base
from gongchuang.core.i18n import N_
from gongchuang.core.models import BigId


class Certification(enum.StrEnum):
    pending = "pending"  # registered on the platform, not yet checked by the platform
    certified = "certified"  # registration checked against the civil-affairs record
    suspended = "suspended"  # may not raise money


CERTIFICATION_LABELS: dict[str, str] = {
    Certification.pending: N_("Awaiting certification"),
    Certification.certified: N_("Certified"),
    Certification.suspended: N_("Suspended"),
}


class Charity(Base):
    """A registered charitable organisation (慈善组织) as the platform knows it."""

    __tablename__ = "charity_charity"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    # The unified social credit code (统一社会信用代码), 18 characters.
    registration_number: Mapped[str] = mapped_column(String(18), unique=True)
    certification: Mapped[str] = mapped_column(String(16), default=Certification.pending)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    # How many people other than the submitter approve an expense.
    expense_approvers: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("expense_approvers BETWEEN 1 AND 5", name="ck_charity_approvers"),
    )


class ProjectStatus(enum.StrEnum):
    draft = "draft"
    open = "open"  # takes donations
    closed = "closed"  # raising ended; spending and reports go on


PROJECT_STATUS_LABELS: dict[str, str] = {
    ProjectStatus.draft: N_("Draft"),
    ProjectStatus.open: N_("Raising"),
    ProjectStatus.closed: N_("Raising closed"),
}


class Project(Base):
    __tablename__ = "charity_project"
    __table_args__ = (
        CheckConstraint("goal_fen > 0", name="ck_charity_project_goal"),
        CheckConstraint(
            "raised_fen >= 0 AND matched_fen >= 0 AND spent_fen >= 0 "
            "AND spent_fen <= raised_fen + matched_fen",
            name="ck_charity_project_money",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    charity_id: Mapped[int] = mapped_column(ForeignKey("charity_charity.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    goal_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ProjectStatus.draft)
    # Counters the ledger also holds, kept here for the list pages and the spending check.
    raised_fen: Mapped[int] = mapped_column(Integer, default=0)
    matched_fen: Mapped[int] = mapped_column(Integer, default=0)
    spent_fen: Mapped[int] = mapped_column(Integer, default=0)
    donors_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetLine(Base):
    """What a project plans to spend on one thing; expenses commit against it."""

    __tablename__ = "charity_budget_line"
    __table_args__ = (
        CheckConstraint("budget_fen > 0", name="ck_charity_budget_line_budget"),
        CheckConstraint(
            "committed_fen >= 0 AND committed_fen <= budget_fen",
            name="ck_charity_budget_line_committed",
        ),
        UniqueConstraint("project_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("charity_project.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    budget_fen: Mapped[int] = mapped_column(Integer)
    # Pending, approved and paid expenses: a rejected one gives its amount back.
    committed_fen: Mapped[int] = mapped_column(Integer, default=0)


class CampaignKind(enum.StrEnum):
    giving_day = "giving_day"  # 99公益日: a few days, a large pot
    daily_match = "daily_match"  # 小红花日配捐: every day a budget of its own
    regional = "regional"  # 区域公益专场: projects of one region only


CAMPAIGN_KIND_LABELS: dict[str, str] = {
    CampaignKind.giving_day: N_("Giving day"),
    CampaignKind.daily_match: N_("Daily match"),
    CampaignKind.regional: N_("Regional special"),
}


class Campaign(Base):
    __tablename__ = "charity_campaign"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ck_charity_campaign_window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Who runs it: the platform, a foundation, a street office.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    # A regional special matches only projects under this region.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pot(Base):
    """A sponsor's matching money in a campaign, and the terms it adds to donations by."""

    __tablename__ = "charity_pot"
    __table_args__ = (
        CheckConstraint("total_fen > 0", name="ck_charity_pot_total"),
        CheckConstraint(
            "ratio_min_pct > 0 AND ratio_min_pct <= ratio_max_pct AND ratio_max_pct <= 1000",
            name="ck_charity_pot_ratio",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("charity_campaign.id"), index=True)
    sponsor: Mapped[str] = mapped_column(String(100))
    total_fen: Mapped[int] = mapped_column(BigId)
    # What is left lives in the pot's slices (`PotShard`, `campaigns.remaining`), which
    # matching takes from and the constraints hold.
    shards: Mapped[int] = mapped_column(Integer, default=16)
    rule: Mapped[str] = mapped_column(String(16))  # rules.RatioRule
    ratio_min_pct: Mapped[int] = mapped_column(Integer, default=100)
    ratio_max_pct: Mapped[int] = mapped_column(Integer, default=100)
    min_donation_fen: Mapped[int] = mapped_column(Integer, default=100)
    max_match_fen: Mapped[int | None] = mapped_column(Integer)
    # Caps (None: none). A donor's cap per project is max_match_fen: one match per project.
    daily_budget_fen: Mapped[int | None] = mapped_column(BigId)
    cap_donor_day_fen: Mapped[int | None] = mapped_column(Integer)
    cap_project_fen: Mapped[int | None] = mapped_column(BigId)
    cap_organisation_fen: Mapped[int | None] = mapped_column(BigId)
    # Seeds the random ratios (rules.match_draw), so that an auditor can recompute each one.
    secret: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Quadratic funding: shared out once, at the campaign's end.
    shared_out_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PotShard(Base):
    """A slice of a pot. A giving day's donors all draw on one pot: on one row, each matching
    transaction would wait for the one before it to commit. Split in slices, a donation takes
    from the slice its id picks and only a pot nearly drained locks them all (in order)."""

    __tablename__ = "charity_pot_shard"
    __table_args__ = (
        UniqueConstraint("pot_id", "shard"),
        # Never exceeded: no slice goes below zero or above what it was given.
        CheckConstraint(
            "remaining_fen >= 0 AND remaining_fen <= initial_fen", name="ck_charity_shard_left"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("charity_pot.id"))
    shard: Mapped[int] = mapped_column(Integer)
    initial_fen: Mapped[int] = mapped_column(BigId)
    remaining_fen: Mapped[int] = mapped_column(BigId)


class CampaignProject(Base):
    """A project taking part in a campaign: only these are matched by its pots."""

    __tablename__ = "charity_campaign_project"
    __table_args__ = (UniqueConstraint("campaign_id", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("charity_campaign.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("charity_project.id"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)


class CounterScope(enum.StrEnum):
    pot_day = "pot_day"  # key: the day (Asia/Shanghai)
    donor_day = "donor_day"  # key: donor id and the day
    project = "project"  # key: project id
    organisation = "organisation"  # key: organisation id


class MatchCounter(Base):
    """How much of a capped amount a pot has given: a row per scope and key, created on first
    use with the cap it counts against, moved only by conditional UPDATEs."""

    __tablename__ = "charity_match_counter"
    __table_args__ = (
        UniqueConstraint("pot_id", "scope", "key"),
        CheckConstraint("used_fen >= 0 AND used_fen <= cap_fen", name="ck_charity_counter_cap"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("charity_pot.id"))
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(40))
    cap_fen: Mapped[int] = mapped_column(BigId)
    used_fen: Mapped[int] = mapped_column(BigId, default=0)


class DonationStatus(enum.StrEnum):
    pending = "pending"  # waiting for the payment
    paid = "paid"
    refunded = "refunded"
    closed = "closed"  # not paid in time, or given up


DONATION_STATUS_LABELS: dict[str, str] = {
    DonationStatus.pending: N_("Waiting for payment"),
    # Not "Received": that message id is the emergency console's column of when a call came.
    DonationStatus.paid: N_("Donation received"),
    DonationStatus.refunded: N_("Refunded"),
    DonationStatus.closed: N_("Not paid"),
}


class Donation(Base):
    __tablename__ = "charity_donation"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="ck_charity_donation_amount"),
        # To a project or to a community fund, never both.
        CheckConstraint(
            "(project_id IS NULL) <> (fund_id IS NULL)", name="ck_charity_donation_recipient"
        ),
        Index("ix_charity_donation_device", "device_hash", "created_at"),
        Index("ix_charity_donation_address", "address_hash", "created_at"),
        Index("ix_charity_donation_project_paid", "project_id", "status", "paid_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The receipt number and the reference the payment carries: "D" and digits.
    code: Mapped[str] = mapped_column(String(24), unique=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("charity_project.id"))
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("charity_fund.id"), index=True)
    # The organisation that receives the money (the project's charity or the fund's keeper).
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("charity_campaign.id"))
    recurring_gift_id: Mapped[int | None] = mapped_column(ForeignKey("charity_recurring_gift.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    # Hidden on public pages; the charity still knows the donor, as the Charity Law requires.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=DonationStatus.pending)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), unique=True)
    # Keyed hashes of the device cookie and the network address, for burst screening only.
    device_hash: Mapped[str] = mapped_column(String(32), default="")
    address_hash: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column()
    refunded_at: Mapped[datetime | None] = mapped_column()


class MatchStatus(enum.StrEnum):
    credited = "credited"  # added to the project
    frozen = "frozen"  # held from the pot, waiting for a reviewer
    clawed_back = "clawed_back"  # returned to the pot (after review, audit or a refund)


MATCH_STATUS_LABELS: dict[str, str] = {
    MatchStatus.credited: N_("Matched"),
    MatchStatus.frozen: N_("Held for review"),
    MatchStatus.clawed_back: N_("Clawed back"),
}


class Match(Base):
    __tablename__ = "charity_match"
    __table_args__ = (
        # One match per donor per project per pot: a second donation is not matched again.
        UniqueConstraint("pot_id", "donor_id", "project_id"),
        CheckConstraint("amount_fen > 0", name="ck_charity_match_amount"),
        Index("ix_charity_match_status", "status", "pot_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("charity_pot.id"))
    # A donation may be matched by each of its campaigns' pots, once by each.
    donation_id: Mapped[int] = mapped_column(ForeignKey("charity_donation.id"), index=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("charity_project.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    ratio_pct: Mapped[int] = mapped_column(Integer)
    # The counters it moved, as [[scope, key], ...], and what it took from which slice of the
    # pot, as [[shard, fen], ...]: a claw-back gives back exactly these.
    counters: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    takes: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    # rules.Signal values that froze it.
    signals: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_note: Mapped[str] = mapped_column(String(500), default="")


class RecurringGift(Base):
    """A monthly gift: each month a donation is raised and the donor asked to pay it."""

    __tablename__ = "charity_recurring_gift"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="ck_charity_recurring_amount"),
        CheckConstraint("day_of_month BETWEEN 1 AND 28", name="ck_charity_recurring_day"),
        # One active monthly gift per donor and project, held by the database.
        Index(
            "uq_charity_recurring_active",
            "donor_id",
            "project_id",
            unique=True,
            postgresql_where=text("cancelled_at IS NULL"),
            sqlite_where=text("cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("charity_project.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    day_of_month: Mapped[int] = mapped_column(Integer)
    next_due_on: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column()


class ExpenseStatus(enum.StrEnum):
    draft = "draft"
    pending = "pending"  # submitted: waiting for approvals
    approved = "approved"
    paid = "paid"
    rejected = "rejected"


EXPENSE_STATUS_LABELS: dict[str, str] = {
    ExpenseStatus.draft: N_("Draft"),
    ExpenseStatus.pending: N_("Waiting for approval"),
    ExpenseStatus.approved: N_("Approved"),
    ExpenseStatus.paid: N_("Paid"),
    ExpenseStatus.rejected: N_("Rejected"),
}


class Expense(Base):
    __tablename__ = "charity_expense"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="ck_charity_expense_amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("charity_project.id"), index=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("charity_budget_line.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    payee: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500))
    invoice_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    invoice_number: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(16), default=ExpenseStatus.draft)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")


class ExpenseApproval(Base):
    __tablename__ = "charity_expense_approval"
    __table_args__ = (UniqueConstraint("expense_id", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    expense_id: Mapped[int] = mapped_column(ForeignKey("charity_expense.id"), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntryKind(enum.StrEnum):
    donation = "donation"  # donors → project or fund
    match = "match"  # pot → project
    clawback = "clawback"  # project → pot (a match taken back)
    refund = "refund"  # project or fund → donors
    expense = "expense"  # project → payee
    grant = "grant"  # fund → community organisation


ENTRY_KIND_LABELS: dict[str, str] = {
    EntryKind.donation: N_("Donation"),
    EntryKind.match: N_("Matched by a pot"),
    EntryKind.clawback: N_("Match clawed back"),
    EntryKind.refund: N_("Refund to the donor"),
    EntryKind.expense: N_("Expense paid"),
    EntryKind.grant: N_("Grant"),
}


class LedgerEntry(Base):
    """One side of a movement of money; each movement is a debit and a credit of the same
    amount sharing `movement`. Accounts are named "project:12", "fund:3", "pot:5", "donors",
    "payee:<expense id>", "grantee:<organisation id>". Append-only (no UPDATE, no DELETE)."""

    __tablename__ = "charity_ledger_entry"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="ck_charity_ledger_amount"),
        CheckConstraint("side IN ('debit', 'credit')", name="ck_charity_ledger_side"),
        # A movement is written once per source event, whoever calls twice.
        UniqueConstraint("kind", "source", "side"),
        Index("ix_charity_ledger_account", "account", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    movement: Mapped[str] = mapped_column(String(48), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(48))
    side: Mapped[str] = mapped_column(String(8))
    account: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigId)
    # The project or fund the movement belongs to, for the public ledger pages.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("charity_project.id"), index=True)
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("charity_fund.id"), index=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class Fund(Base):
    """A community fund (社区基金): contributions in, grants to community organisations out."""

    __tablename__ = "charity_fund"
    __table_args__ = (
        CheckConstraint(
            "received_fen >= 0 AND granted_fen >= 0 AND granted_fen <= received_fen",
            name="ck_charity_fund_balance",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The residents' committee or foundation that keeps it.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    received_fen: Mapped[int] = mapped_column(BigId, default=0)
    granted_fen: Mapped[int] = mapped_column(BigId, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FundCall(Base):
    """A call for proposals from a community fund."""

    __tablename__ = "charity_fund_call"
    __table_args__ = (
        CheckConstraint("budget_fen > 0", name="ck_charity_call_budget"),
        CheckConstraint(
            "granted_fen >= 0 AND granted_fen <= budget_fen", name="ck_charity_call_granted"
        ),
        CheckConstraint("closes_at > opens_at", name="ck_charity_call_window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("charity_fund.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    budget_fen: Mapped[int] = mapped_column(BigId)
    granted_fen: Mapped[int] = mapped_column(BigId, default=0)
    opens_at: Mapped[datetime] = mapped_column()
    closes_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProposalStatus(enum.StrEnum):
    submitted = "submitted"
    granted = "granted"
    declined = "declined"


PROPOSAL_STATUS_LABELS: dict[str, str] = {
    ProposalStatus.submitted: N_("Submitted"),
    ProposalStatus.granted: N_("Granted"),
    ProposalStatus.declined: N_("Declined"),
}


class Proposal(Base):
    __tablename__ = "charity_proposal"
    __table_args__ = (
        # One proposal per organisation per call.
        UniqueConstraint("call_id", "organisation_id"),
        CheckConstraint("requested_fen > 0", name="ck_charity_proposal_requested"),
        CheckConstraint(
            "granted_fen IS NULL OR (granted_fen > 0 AND granted_fen <= requested_fen)",
            name="ck_charity_proposal_granted",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("charity_fund_call.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    submitted_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    title: Mapped[str] = mapped_column(String(100))
    plan: Mapped[str] = mapped_column(Text)
    requested_fen: Mapped[int] = mapped_column(Integer)
    granted_fen: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.submitted)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GrantReport(Base):
    """What a granted organisation did with the money: append-only, several per grant."""

    __tablename__ = "charity_grant_report"
    __table_args__ = (CheckConstraint("spent_fen >= 0", name="ck_charity_report_spent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("charity_proposal.id"), index=True)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    text: Mapped[str] = mapped_column(Text)
    spent_fen: Mapped[int] = mapped_column(Integer, default=0)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
