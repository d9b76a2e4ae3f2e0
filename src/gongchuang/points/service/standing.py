"""Where an account stands: points earned in a period, its star tier, the village's balances
(read-only; the pages, the API's read models and the reports share them)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.clock import local_midnight
from gongchuang.core.clock import local_today as today_local
from gongchuang.core.models import Organisation
from gongchuang.points.models import PointsAccount, PointsEntry, PublicNotice, RuleCatalogue
from gongchuang.points.service._common import LEDGER_KINDS_EARNED
from gongchuang.points.service.catalogue import get_catalogue
from gongchuang.points.service.queries import account_labels
from gongchuang.points.service.records import period_bounds


def earned_between(
    session: Session, village_id: int, start: date, end: date, account_id: int | None = None
) -> dict[int, int]:
    """Points earned (settled, less reversals) per account in [start, end); one account's only
    when `account_id` is given."""
    query = (
        select(PointsEntry.account_id, func.sum(PointsEntry.delta))
        .where(
            PointsEntry.organisation_id == village_id,
            PointsEntry.kind.in_(LEDGER_KINDS_EARNED),
            PointsEntry.created_at >= local_midnight(start),
            PointsEntry.created_at < local_midnight(end),
        )
        .group_by(PointsEntry.account_id)
    )
    if account_id is not None:
        query = query.where(PointsEntry.account_id == account_id)
    return {account: int(total or 0) for account, total in session.execute(query).all()}


def account_tier(session: Session, catalogue: RuleCatalogue, account: PointsAccount) -> str:
    """The star tier an account holds on this year's points."""
    year = period_bounds("year", today_local())
    earned = earned_between(session, account.organisation_id, *year, account_id=account.id)
    return tier_for(catalogue, earned.get(account.id, 0))


def tier_for(catalogue: RuleCatalogue, year_points: int) -> str:
    name = ""
    for tier in sorted(catalogue.star_tiers or [], key=lambda t: t["min_points"]):
        if year_points >= tier["min_points"]:
            name = tier["name"]
    return name


def balances(session: Session, village: Organisation) -> list[tuple[PointsAccount, str, str]]:
    catalogue = get_catalogue(session, village)
    accounts = list(
        session.scalars(
            select(PointsAccount)
            .where(PointsAccount.organisation_id == village.id)
            .order_by(PointsAccount.balance.desc(), PointsAccount.id)
        )
    )
    labels = account_labels(session, accounts)
    year_start, year_end = period_bounds("year", today_local())
    yearly = earned_between(session, village.id, year_start, year_end)
    return [(a, labels.get(a.id, ""), tier_for(catalogue, yearly.get(a.id, 0))) for a in accounts]


def notice_window(notice: PublicNotice, now: datetime) -> bool:
    return notice.opens_at <= now < notice.closes_at
