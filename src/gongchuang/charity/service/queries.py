"""Read-only queries the charity pages need beyond the rules' own: what a pot has left without
writing it back, recent public donations with the donor's name masked (anonymous ones unnamed),
a donor's own giving, budget lines with what was spent, the public ledger as pairs with its
accounts named in words, and a receipt's public check. Nothing here writes: a GET on SQLite
reads a snapshot it must not upgrade."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    BudgetLine,
    Campaign,
    Donation,
    DonationStatus,
    EntryKind,
    Expense,
    ExpenseStatus,
    Fund,
    FundCall,
    GrantReport,
    LedgerEntry,
    Match,
    Pot,
    Project,
    ProjectStatus,
    Proposal,
)
from gongchuang.charity.service import _common, funds, views
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Organisation, Person

# Recent donations shown on a project's page, and movements on one page of a ledger.
RECENT_DONATIONS = 20
LEDGER_PAGE = 30


# --- projects and campaigns ------------------------------------------------------------------


def open_projects(session: Session) -> list[Project]:
    """Projects taking donations, the ones nearest their goal first."""
    return list(
        session.scalars(
            select(Project)
            .where(Project.status == ProjectStatus.open)
            .order_by(Project.raised_fen.desc(), Project.id)
        )
    )


def running_campaigns(session: Session, at: datetime | None = None) -> list[Campaign]:
    now = at or utcnow()
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.starts_at <= now, Campaign.ends_at > now)
            .order_by(Campaign.ends_at, Campaign.id)
        )
    )


def pots_of_campaigns(session: Session, campaign_ids: Iterable[int]) -> dict[int, list[Pot]]:
    ids = list(campaign_ids)
    found: dict[int, list[Pot]] = {campaign_id: [] for campaign_id in ids}
    if ids:
        for pot in session.scalars(
            select(Pot).where(Pot.campaign_id.in_(ids)).order_by(Pot.campaign_id, Pot.id)
        ):
            found[pot.campaign_id].append(pot)
    return found


def organisation_name(session: Session, organisation_id: int) -> str:
    return session.scalar(select(Organisation.name).where(Organisation.id == organisation_id)) or ""


# --- donations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicDonation:
    """A donation as the public sees it: the donor's masked name, or None when anonymous."""

    donor: str | None
    amount_fen: int
    message: str
    paid_at: datetime | None


def recent_donations(
    session: Session, project_id: int, limit: int = RECENT_DONATIONS
) -> list[PublicDonation]:
    """The project's latest received donations as the public sees them."""
    return [
        PublicDonation(
            donor=None if donation.anonymous else mask_name(name or ""),
            amount_fen=donation.amount_fen,
            message=donation.message,
            paid_at=donation.paid_at,
        )
        for donation, name in views.paid_donations(session, project_id, limit=limit)[:limit]
    ]


@dataclass(frozen=True)
class OwnDonation:
    donation: Donation
    recipient: str  # the project's title or the fund's name
    matches: list[Match]


def donations_of(session: Session, donor_id: int, limit: int = 100) -> list[OwnDonation]:
    """A donor's donations, newest first, with what they are for and their matches."""
    donations = list(
        session.scalars(
            select(Donation)
            .where(Donation.donor_id == donor_id)
            .order_by(Donation.created_at.desc(), Donation.id.desc())
            .limit(limit)
        )
    )
    matches = _matches_by_donation(session, [d.id for d in donations])
    return [OwnDonation(d, recipient_of(session, d), matches.get(d.id, [])) for d in donations]


def _matches_by_donation(session: Session, donation_ids: list[int]) -> dict[int, list[Match]]:
    found: dict[int, list[Match]] = {}
    if donation_ids:
        for match in session.scalars(
            select(Match).where(Match.donation_id.in_(donation_ids)).order_by(Match.id)
        ):
            found.setdefault(match.donation_id, []).append(match)
    return found


def matched_before(session: Session, donation: Donation) -> bool:
    """Whether the donor's earlier gift to the same project was matched: each pot matches a
    person once per project, which is why a later gift is not."""
    if donation.project_id is None:
        return False
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Match)
            .where(
                Match.donor_id == donation.donor_id,
                Match.project_id == donation.project_id,
                Match.donation_id != donation.id,
            )
        )
    )


def recipient_of(session: Session, donation: Donation) -> str:
    if donation.project_id is not None:
        return session.scalar(select(Project.title).where(Project.id == donation.project_id)) or ""
    return session.scalar(select(Fund.name).where(Fund.id == donation.fund_id)) or ""


def project_titles(session: Session, project_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(project_ids))
    if not ids:
        return {}
    rows = session.execute(select(Project.id, Project.title).where(Project.id.in_(ids))).all()
    return {int(project_id): title for project_id, title in rows}


@dataclass(frozen=True)
class ReceiptCheck:
    """What anyone holding a receipt number may check: nothing else about the donor."""

    code: str
    amount_fen: int
    recipient: str
    paid_at: datetime | None
    donor: str | None  # masked, or None when anonymous


def receipt_check(session: Session, code: str) -> ReceiptCheck:
    """A received donation's public check; a donation not received (or refunded) has no valid
    receipt and is not found."""
    row = session.execute(
        select(Donation, Person.name)
        .join(Person, Person.id == Donation.donor_id)
        .where(Donation.code == code, Donation.status == DonationStatus.paid)
    ).first()
    if row is None:
        raise NotFound()
    donation, name = row
    return ReceiptCheck(
        code=donation.code,
        amount_fen=donation.amount_fen,
        recipient=recipient_of(session, donation),
        paid_at=donation.paid_at,
        donor=None if donation.anonymous else mask_name(name or ""),
    )


# --- budgets and expenses --------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetFigures:
    line: BudgetLine
    spent_fen: int  # paid expenses


def budget_figures(session: Session, project_id: int) -> list[BudgetFigures]:
    lines = list(
        session.scalars(
            select(BudgetLine).where(BudgetLine.project_id == project_id).order_by(BudgetLine.id)
        )
    )
    spent = dict(
        session.execute(
            select(Expense.budget_line_id, func.coalesce(func.sum(Expense.amount_fen), 0))
            .where(Expense.project_id == project_id, Expense.status == ExpenseStatus.paid)
            .group_by(Expense.budget_line_id)
        ).all()
    )
    return [BudgetFigures(line, int(spent.get(line.id, 0))) for line in lines]


def paid_expenses(session: Session, project_id: int) -> list[tuple[Expense, str]]:
    """Paid expenses, newest first, each with its budget line's name."""
    return [
        (expense, line_name)
        for expense, line_name in session.execute(
            select(Expense, BudgetLine.name)
            .join(BudgetLine, BudgetLine.id == Expense.budget_line_id)
            .where(Expense.project_id == project_id, Expense.status == ExpenseStatus.paid)
            .order_by(Expense.paid_at.desc(), Expense.id.desc())
        ).all()
    ]


# --- the public ledger -----------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """One movement of money: from the debited account to the credited one."""

    id: int  # the debit side's id: pages go back from it
    kind: str
    from_account: str
    to_account: str
    amount_fen: int
    memo: str
    occurred_at: datetime


@dataclass(frozen=True)
class LedgerPage:
    movements: list[Movement]
    names: dict[str, str]  # account → its name, where it has one of its own
    older_before_id: int | None  # the next page's `before_id`, when there are older ones


def ledger_page(
    session: Session,
    *,
    project_id: int | None = None,
    fund_id: int | None = None,
    before_id: int | None = None,
    limit: int = LEDGER_PAGE,
) -> LedgerPage:
    """A project's or a fund's movements, newest first, as pairs (the debit and the credit of a
    movement are written together, so a page is cut between movements, never inside one)."""
    query = select(LedgerEntry).where(LedgerEntry.side == "debit")
    if project_id is not None:
        query = query.where(LedgerEntry.project_id == project_id)
    else:
        query = query.where(LedgerEntry.fund_id == fund_id)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    debits = list(session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit + 1)))
    more = len(debits) > limit
    debits = debits[:limit]
    credits = {
        entry.movement: entry
        for entry in session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.movement.in_([d.movement for d in debits]),
                LedgerEntry.side == "credit",
            )
        )
    }
    movements = [
        Movement(
            id=debit.id,
            kind=debit.kind,
            from_account=debit.account,
            to_account=credits[debit.movement].account if debit.movement in credits else "",
            amount_fen=debit.amount_fen,
            memo=debit.memo,
            occurred_at=debit.occurred_at,
        )
        for debit in debits
    ]
    accounts = {m.from_account for m in movements} | {m.to_account for m in movements}
    return LedgerPage(
        movements=movements,
        names=account_names(session, accounts),
        older_before_id=debits[-1].id if more and debits else None,
    )


def _numbered(accounts: Iterable[str], prefix: str) -> list[int]:
    ids = []
    for account in accounts:
        kind, _, number = account.partition(":")
        if kind == prefix and number.isdigit():
            ids.append(int(number))
    return ids


def account_names(session: Session, accounts: Iterable[str]) -> dict[str, str]:
    """The name of each account that has one: a pot's sponsor, a project's title, a fund's
    name, an expense's payee, a grantee organisation's name ("donors" is named by the page, in
    the reader's language)."""
    wanted = list(accounts)
    names: dict[str, str] = {}
    tables = (
        ("pot", Pot.id, Pot.sponsor),
        ("project", Project.id, Project.title),
        ("fund", Fund.id, Fund.name),
        ("payee", Expense.id, Expense.payee),
        ("grantee", Organisation.id, Organisation.name),
    )
    for prefix, id_column, name_column in tables:
        ids = _numbered(wanted, prefix)
        if ids:
            for row_id, name in session.execute(
                select(id_column, name_column).where(id_column.in_(ids))
            ).all():
                names[f"{prefix}:{row_id}"] = name
    return names


@dataclass(frozen=True)
class LedgerTotals:
    received_fen: int  # donations less refunds
    matched_fen: int  # matches less claw-backs
    spent_fen: int  # expenses paid, or grants made by a fund
    balance_fen: int


def ledger_totals(
    session: Session, *, project_id: int | None = None, fund_id: int | None = None
) -> LedgerTotals:
    """The totals of a project's or a fund's account, from its ledger."""
    account = f"project:{project_id}" if project_id is not None else f"fund:{fund_id}"
    rows = session.execute(
        select(
            LedgerEntry.kind, LedgerEntry.side, func.coalesce(func.sum(LedgerEntry.amount_fen), 0)
        )
        .where(LedgerEntry.account == account)
        .group_by(LedgerEntry.kind, LedgerEntry.side)
    ).all()
    sums = {(str(kind), str(side)): int(fen) for kind, side, fen in rows}

    def moved(kind: EntryKind, side: str) -> int:
        return sums.get((kind.value, side), 0)

    credits = sum(fen for (_, side), fen in sums.items() if side == "credit")
    debits = sum(fen for (_, side), fen in sums.items() if side == "debit")
    return LedgerTotals(
        received_fen=moved(EntryKind.donation, "credit") - moved(EntryKind.refund, "debit"),
        matched_fen=moved(EntryKind.match, "credit") - moved(EntryKind.clawback, "debit"),
        spent_fen=moved(EntryKind.expense, "debit") + moved(EntryKind.grant, "debit"),
        balance_fen=credits - debits,
    )


# --- what the public pages fetch -------------------------------------------------------------


def public_project(session: Session, project_id: int) -> Project:
    """A project the public may see (any but a draft), or NotFound."""
    return _common.public_project(session, project_id)


@dataclass(frozen=True)
class GrantShown:
    proposal: Proposal
    grantee: str
    reports: list[GrantReport]


def grants_shown(session: Session, fund_id: int) -> list[GrantShown]:
    """A fund's grants, newest first, each with its grantee's name and its reports."""
    grants = funds.grants_of_fund(session, fund_id)
    reports: dict[int, list[GrantReport]] = {}
    if grants:
        for report in session.scalars(
            select(GrantReport)
            .where(GrantReport.proposal_id.in_([g.id for g in grants]))
            .order_by(GrantReport.id)
        ):
            reports.setdefault(report.proposal_id, []).append(report)
    return [
        GrantShown(g, organisation_name(session, g.organisation_id), reports.get(g.id, []))
        for g in grants
    ]


def open_calls(session: Session, fund_id: int) -> list[FundCall]:
    now = utcnow()
    return [call for call in funds.calls_of(session, fund_id) if funds.is_open(call, now)]
