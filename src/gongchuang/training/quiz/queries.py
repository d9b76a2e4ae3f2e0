"""Read-only lists and leaderboards that feed pages and the API: banks, questions, campaigns,
ranking regions, ranks and a participant's standing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from gongchuang.core import regions
from gongchuang.core.models import Organisation, Region
from gongchuang.training.models import (
    CampaignStatus,
    Question,
    QuestionBank,
    QuizAudience,
    QuizCampaign,
    QuizRegionTally,
    QuizScoreBucket,
    QuizStanding,
)


def banks_of(session: Session, organisation_id: int) -> list[QuestionBank]:
    return list(
        session.scalars(
            select(QuestionBank)
            .where(QuestionBank.organisation_id == organisation_id)
            .order_by(QuestionBank.id)
        )
    )


def questions_of(session: Session, bank_id: int) -> list[Question]:
    return list(
        session.scalars(select(Question).where(Question.bank_id == bank_id).order_by(Question.id))
    )


def public_campaigns(session: Session) -> list[QuizCampaign]:
    return list(
        session.scalars(
            select(QuizCampaign)
            .where(
                QuizCampaign.audience == QuizAudience.public,
                QuizCampaign.status == CampaignStatus.open,
            )
            .order_by(QuizCampaign.id.desc())
        )
    )


def campaigns_of(session: Session, organisation_id: int) -> list[QuizCampaign]:
    return list(
        session.scalars(
            select(QuizCampaign)
            .where(
                QuizCampaign.organisation_id == organisation_id,
                QuizCampaign.audience == QuizAudience.public,
            )
            .order_by(QuizCampaign.id.desc())
        )
    )


def ranking_regions(session: Session, campaign: QuizCampaign) -> list[Region]:
    """The regions a guest can say they are from: the campaign's ranking level, within the
    organiser's province."""
    organisation = session.get(Organisation, campaign.organisation_id)
    region = session.get(Region, organisation.region_id) if organisation else None
    if region is None:
        return []
    province_id = regions.path_ids(region.path)[0]
    province = session.get(Region, province_id)
    if province is None:
        raise LookupError(f"region {province_id}, first on the path of {region.id}")
    return list(
        session.scalars(
            select(Region)
            .where(Region.path.startswith(province.path), Region.level == campaign.ranking_level)
            .order_by(Region.code)
            .limit(500)
        )
    )


@dataclass(frozen=True)
class Rank:
    rank: int
    name: str
    total_score: int
    attempts: int
    participants: int = 1


def _ranked(query: Any) -> Any:
    return query.order_by(QuizStanding.total_score.desc(), QuizStanding.reached_at, QuizStanding.id)


def leaderboard(session: Session, campaign_id: int, limit: int = 20) -> list[Rank]:
    rows = session.execute(
        _ranked(
            select(QuizStanding.nickname, QuizStanding.total_score, QuizStanding.attempts).where(
                QuizStanding.campaign_id == campaign_id
            )
        ).limit(limit)
    ).all()
    return [Rank(i + 1, name, total, attempts) for i, (name, total, attempts) in enumerate(rows)]


def region_leaderboard(session: Session, campaign_id: int, limit: int = 20) -> list[Rank]:
    total = func.sum(QuizRegionTally.total_score)
    rows = session.execute(
        select(
            Region.name,
            total,
            func.sum(QuizRegionTally.attempts),
            func.sum(QuizRegionTally.participants),
        )
        .join(Region, Region.id == QuizRegionTally.region_id)
        .where(QuizRegionTally.campaign_id == campaign_id)
        .group_by(Region.id, Region.name)
        .order_by(total.desc(), Region.name)
        .limit(limit)
    ).all()
    return [
        Rank(i + 1, name, int(score), int(attempts), int(participants))
        for i, (name, score, attempts, participants) in enumerate(rows)
    ]


@dataclass(frozen=True)
class MyStanding:
    rank: int
    total_score: int
    best_score: int
    attempts: int
    participants: int


def standing_of(session: Session, campaign_id: int, participant_key: str) -> MyStanding | None:
    mine = session.scalar(
        select(QuizStanding).where(
            QuizStanding.campaign_id == campaign_id,
            QuizStanding.participant_key == participant_key,
        )
    )
    if mine is None:
        return None
    higher = session.scalar(
        select(func.coalesce(func.sum(QuizScoreBucket.participants), 0)).where(
            QuizScoreBucket.campaign_id == campaign_id,
            QuizScoreBucket.total_score > mine.total_score,
        )
    )
    # Of equal totals, who reached it first: a range on the ranking index.
    tied_first = session.scalar(
        select(func.count()).where(
            QuizStanding.campaign_id == campaign_id,
            QuizStanding.total_score == mine.total_score,
            tuple_(QuizStanding.reached_at, QuizStanding.id) < tuple_(mine.reached_at, mine.id),
        )
    )
    ahead = int(higher or 0) + int(tied_first or 0)
    everyone, _submissions = campaign_totals(session, campaign_id)
    return MyStanding(ahead + 1, mine.total_score, mine.best_score, mine.attempts, everyone)


def campaign_totals(session: Session, campaign_id: int) -> tuple[int, int]:
    """(participants, attempts) from the score buckets."""
    participants, submissions = session.execute(
        select(
            func.coalesce(func.sum(QuizScoreBucket.participants), 0),
            func.coalesce(func.sum(QuizScoreBucket.submissions), 0),
        ).where(QuizScoreBucket.campaign_id == campaign_id)
    ).one()
    return int(participants), int(submissions)
