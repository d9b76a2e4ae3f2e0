"""Reviewing matches: a match the anti-gaming rules froze is released to its project or
clawed back to its pot by a reviewer of the campaign's organisation; a credited match found
abnormal by a later audit is clawed back the same way (a reversing entry in the ledger)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.charity.models import Campaign, Match, MatchStatus, Pot
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import ClawBackIn, ReviewIn
from gongchuang.charity.service import matching
from gongchuang.charity.service._common import may, person_of
from gongchuang.core import audit, events
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.topics.charity import MatchReviewed


def _campaign_organisation(session: Session, pot_id: int) -> int:
    organisation_id = session.scalar(
        select(Campaign.organisation_id)
        .join(Pot, Pot.campaign_id == Campaign.id)
        .where(Pot.id == pot_id)
    )
    if organisation_id is None:
        raise LookupError(f"campaign of pot {pot_id}")
    return organisation_id


def match_to_review(session: Session, actor: Principal, match_id: int) -> Match:
    """The match, locked; refused as NotFound to anyone but the campaign's reviewers."""
    match = session.scalar(
        select(Match)
        .where(Match.id == match_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if match is None or not may(
        session, actor, CharityPerm.REVIEW, _campaign_organisation(session, match.pot_id)
    ):
        raise NotFound()
    return match


def review(session: Session, actor: Principal, match_id: int, command: ReviewIn) -> Match:
    reviewer = person_of(actor)
    match = match_to_review(session, actor, match_id)
    if match.status != MatchStatus.frozen:
        raise Conflict(N_("This match is not waiting for review"))
    if match.donor_id == reviewer:
        raise Conflict(N_("You cannot review a match of your own donation"))
    if command.decision == "release":
        match.status = MatchStatus.credited
        match.review_note = command.note
        matching.credit(session, match)
    else:
        matching.claw_back(session, match, command.note or "review")
    match.reviewed_by = reviewer
    match.reviewed_at = utcnow()
    _reviewed(session, actor, match, command.decision)
    return match


def claw_back_after_audit(
    session: Session, actor: Principal, match_id: int, command: ClawBackIn
) -> Match:
    """An audit found the donation abnormal: the credited match goes back to the pot."""
    reviewer = person_of(actor)
    match = match_to_review(session, actor, match_id)
    if match.status != MatchStatus.credited:
        raise Conflict(N_("Only a credited match can be clawed back after an audit"))
    matching.claw_back(session, match, command.note)
    match.reviewed_by = reviewer
    match.reviewed_at = utcnow()
    _reviewed(session, actor, match, "claw_back")
    return match


def _reviewed(session: Session, actor: Principal, match: Match, decision: str) -> None:
    audit.record(
        session,
        actor,
        f"charity.match_{decision}",
        "charity_match",
        match.id,
        after={"status": match.status, "amount_fen": match.amount_fen, "note": match.review_note},
    )
    events.publish(
        session,
        MatchReviewed(
            pot_id=match.pot_id,
            match_id=match.id,
            project_id=match.project_id,
            amount_fen=match.amount_fen,
            decision=decision,
        ),
    )


def matches_to_review(
    session: Session, actor: Principal, *, status: str = MatchStatus.frozen, limit: int = 200
) -> list[Match]:
    """The matches of the campaigns the reviewer reviews, held ones by default, oldest first."""
    campaign_ids = [
        campaign_id
        for campaign_id, organisation_id in session.execute(
            select(Campaign.id, Campaign.organisation_id)
        ).all()
        if may(session, actor, CharityPerm.REVIEW, organisation_id)
    ]
    if not campaign_ids:
        return []
    return list(
        session.scalars(
            select(Match)
            .join(Pot, Pot.id == Match.pot_id)
            .where(Pot.campaign_id.in_(campaign_ids), Match.status == status)
            .order_by(Match.id)
            .limit(limit)
        )
    )
