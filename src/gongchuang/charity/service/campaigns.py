"""Campaigns and their matching pots: a giving day, a daily match, a regional special; which
projects take part; what each pot has left."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    Campaign,
    CampaignKind,
    CampaignProject,
    Pot,
    PotShard,
    Project,
    ProjectStatus,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import CampaignIn, PotIn
from gongchuang.charity.service._common import (
    campaign_to_run,
    charity_of,
    may_raise,
    project_to_manage,
    require,
)
from gongchuang.charity.service.rules import RatioRule
from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, Region
from gongchuang.core.permissions import Principal

# Slices of a pot (see PotShard): enough that two workers' transactions rarely meet on one.
POT_SHARDS = 16


def create_campaign(
    session: Session, actor: Principal, organisation_id: int, command: CampaignIn
) -> Campaign:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    require(session, actor, CharityPerm.CAMPAIGN, organisation.id)
    if command.region_id is not None and session.get(Region, command.region_id) is None:
        raise InvalidInput(
            N_("No such region"), errors=[{"field": "region_id", "message": N_("no such region")}]
        )
    campaign = Campaign(
        organisation_id=organisation.id,
        name=command.name,
        kind=command.kind,
        description=command.description,
        region_id=command.region_id if command.kind == CampaignKind.regional else None,
        starts_at=command.starts_at,
        ends_at=command.ends_at,
    )
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor,
        "charity.campaign_created",
        "charity_campaign",
        campaign.id,
        after={"name": campaign.name, "kind": campaign.kind},
    )
    return campaign


def add_pot(session: Session, actor: Principal, campaign_id: int, command: PotIn) -> Pot:
    """A sponsor's money for the campaign, split into slices for matching."""
    campaign = campaign_to_run(session, actor, campaign_id)
    if campaign.ends_at <= utcnow():
        raise Conflict(N_("This campaign has ended: a pot can no longer be added"))
    pot = Pot(
        campaign_id=campaign.id,
        sponsor=command.sponsor,
        total_fen=command.total_fen,
        rule=command.rule,
        ratio_min_pct=command.ratio_min_pct,
        ratio_max_pct=command.ratio_max_pct,
        min_donation_fen=command.min_donation_fen,
        max_match_fen=command.max_match_fen,
        daily_budget_fen=command.daily_budget_fen,
        cap_donor_day_fen=command.cap_donor_day_fen,
        cap_project_fen=command.cap_project_fen,
        cap_organisation_fen=command.cap_organisation_fen,
        secret=secrets.token_bytes(32),
        shards=POT_SHARDS if command.rule != RatioRule.quadratic else 1,
    )
    session.add(pot)
    session.flush()
    base, extra = divmod(pot.total_fen, pot.shards)
    for shard in range(pot.shards):
        share = base + (1 if shard < extra else 0)
        session.add(PotShard(pot_id=pot.id, shard=shard, initial_fen=share, remaining_fen=share))
    session.flush()
    audit.record(
        session,
        actor,
        "charity.pot_added",
        "charity_pot",
        pot.id,
        after={"sponsor": pot.sponsor, "total_fen": pot.total_fen, "rule": pot.rule},
    )
    return pot


def enrol(session: Session, actor: Principal, campaign_id: int, project_id: int) -> CampaignProject:
    """A charity puts its open project into a campaign: its donations are matched from then."""
    project = project_to_manage(session, actor, project_id)
    may_raise(charity_of(session, project))
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound()
    if campaign.ends_at <= utcnow():
        raise Conflict(N_("This campaign has ended"))
    if project.status != ProjectStatus.open:
        raise Conflict(N_("Only a project open for donations can take part in a campaign"))
    if campaign.region_id is not None and not _within(session, project.region_id, campaign):
        raise Conflict(N_("This regional special is only for projects of its region"))
    entry = CampaignProject(campaign_id=campaign.id, project_id=project.id)
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("This project already takes part in this campaign")) from None
    audit.record(
        session,
        actor,
        "charity.project_enrolled",
        "charity_campaign",
        campaign.id,
        after={"project_id": project.id},
    )
    return entry


def _within(session: Session, region_id: int, campaign: Campaign) -> bool:
    path = session.scalar(select(Region.path).where(Region.id == region_id)) or ""
    root = session.scalar(select(Region.path).where(Region.id == campaign.region_id)) or "-"
    return path.startswith(root)


def matching_pots(session: Session, project_id: int, at: datetime) -> list[Pot]:
    """The pots that match a donation to this project paid at `at`: of campaigns the project
    takes part in whose window holds `at`, and that match donation by donation."""
    return list(
        session.scalars(
            select(Pot)
            .join(Campaign, Campaign.id == Pot.campaign_id)
            .join(CampaignProject, CampaignProject.campaign_id == Campaign.id)
            .where(
                CampaignProject.project_id == project_id,
                Campaign.starts_at <= at,
                Campaign.ends_at > at,
                Pot.rule != RatioRule.quadratic,
            )
            .order_by(Pot.id)
        )
    )


def pots_left(session: Session, pot_ids: Iterable[int]) -> dict[int, int]:
    """What each pot has left: the sum of its slices, for all the pots in one query."""
    ids = list(pot_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(PotShard.pot_id, func.coalesce(func.sum(PotShard.remaining_fen), 0))
        .where(PotShard.pot_id.in_(ids))
        .group_by(PotShard.pot_id)
    ).all()
    left = {int(pot_id): int(fen) for pot_id, fen in rows}
    return {pot_id: left.get(pot_id, 0) for pot_id in ids}


def remaining(session: Session, pot: Pot) -> int:
    """What one pot has left."""
    return pots_left(session, [pot.id])[pot.id]


def campaigns(session: Session, *, current_only: bool = False) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.starts_at.desc())
    if current_only:
        query = query.where(Campaign.ends_at > utcnow())
    return list(session.scalars(query))


def campaign(session: Session, campaign_id: int) -> Campaign:
    found = session.get(Campaign, campaign_id)
    if found is None:
        raise NotFound()
    return found


def pots_of(session: Session, campaign_id: int) -> list[Pot]:
    return list(session.scalars(select(Pot).where(Pot.campaign_id == campaign_id).order_by(Pot.id)))


def projects_of_campaign(session: Session, campaign_id: int) -> list[Project]:
    return list(
        session.scalars(
            select(Project)
            .join(CampaignProject, CampaignProject.project_id == Project.id)
            .where(CampaignProject.campaign_id == campaign_id, Project.status != "draft")
            .order_by(Project.raised_fen.desc(), Project.id)
        )
    )


def campaigns_of_project(session: Session, project_id: int) -> list[Campaign]:
    return list(
        session.scalars(
            select(Campaign)
            .join(CampaignProject, CampaignProject.campaign_id == Campaign.id)
            .where(CampaignProject.project_id == project_id)
            .order_by(Campaign.starts_at.desc())
        )
    )
