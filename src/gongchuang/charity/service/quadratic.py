"""Quadratic funding: a pot whose rule is "quadratic" matches nothing donation by donation; at
the campaign's end its money is shared out among the campaign's projects by
`rules.quadratic_shares` over the donations they received in the window (many small donors
count for more than one large one), with the pairwise bound against coordinated donors. Each
project's share is one movement in the public ledger, pot → project."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    Campaign,
    CampaignProject,
    Donation,
    DonationStatus,
    EntryKind,
    Pot,
    PotShard,
    Project,
)
from gongchuang.charity.service import ledger
from gongchuang.charity.service._common import campaign_to_run
from gongchuang.charity.service.rules import RatioRule, quadratic_shares
from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal

# The pairwise bound M (fen): a pair of donors who give together to many projects earns at
# most about this much subsidy per project.
COORDINATION_BOUND_FEN = 10_000


def contributions(session: Session, campaign: Campaign) -> dict[int, dict[int, int]]:
    """project id → donor id → fen paid to it within the campaign's window."""
    rows = session.execute(
        select(Donation.project_id, Donation.donor_id, func.sum(Donation.amount_fen))
        .join(CampaignProject, CampaignProject.project_id == Donation.project_id)
        .where(
            CampaignProject.campaign_id == campaign.id,
            Donation.status == DonationStatus.paid,
            Donation.paid_at >= campaign.starts_at,
            Donation.paid_at < campaign.ends_at,
        )
        .group_by(Donation.project_id, Donation.donor_id)
    ).all()
    found: dict[int, dict[int, int]] = defaultdict(dict)
    for project_id, donor_id, total in rows:
        if project_id is not None:
            found[int(project_id)][int(donor_id)] = int(total or 0)
    return dict(found)


def share_out(session: Session, actor: Principal, pot_id: int) -> dict[int, int]:
    """Share a quadratic pot out once its campaign has ended; answers project id → fen."""
    pot = session.scalar(
        select(Pot)
        .where(Pot.id == pot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if pot is None:
        raise LookupError(f"pot {pot_id}")
    campaign = campaign_to_run(session, actor, pot.campaign_id)
    if pot.rule != RatioRule.quadratic:
        raise Conflict(N_("Only a quadratic-funding pot is shared out at the end"))
    if pot.shared_out_at is not None:
        raise Conflict(N_("This pot has already been shared out"))
    if campaign.ends_at > utcnow():
        raise Conflict(N_("A quadratic-funding pot is shared out after its campaign ends"))
    shard = session.scalar(select(PotShard).where(PotShard.pot_id == pot.id).with_for_update())
    available = shard.remaining_fen if shard is not None else 0
    shares = quadratic_shares(
        contributions(session, campaign),
        available,
        coordination_bound_fen=COORDINATION_BOUND_FEN,
    )
    for project_id, fen in sorted(shares.items()):
        if fen <= 0:
            continue
        session.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(matched_fen=Project.matched_fen + fen)
            .execution_options(synchronize_session=False)
        )
        ledger.write_movement(
            session,
            kind=EntryKind.match,
            source=f"quadratic:{pot.id}:{project_id}",
            debit=ledger.pot_account(pot.id),
            credit=ledger.project_account(project_id),
            amount_fen=fen,
            project_id=project_id,
            memo="quadratic funding",
        )
    given = sum(shares.values())
    if shard is not None and given:
        shard.remaining_fen -= given
    pot.shared_out_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "charity.pot_shared_out",
        "charity_pot",
        pot.id,
        after={"given_fen": given, "projects": len([f for f in shares.values() if f > 0])},
    )
    return shares
