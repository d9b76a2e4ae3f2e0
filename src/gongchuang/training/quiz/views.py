"""The shapes of campaigns, papers, results and leaderboards that the API returns and the
pages show: read once here, so a page and the API cannot say different things."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.training.models import Question, QuestionBank, QuizAttempt, QuizCampaign
from gongchuang.training.quiz.campaigns import is_running
from gongchuang.training.quiz.papers import paper_of
from gongchuang.training.quiz.queries import (
    campaign_totals,
    leaderboard,
    region_leaderboard,
    standing_of,
)
from gongchuang.training.schemas import (
    AttemptOut,
    BankOut,
    CampaignOut,
    LeaderboardOut,
    MyStandingOut,
    PaperQuestionOut,
    RankOut,
    ResultOut,
    ReviewedQuestionOut,
)


def campaign_out(session: Session, campaign: QuizCampaign) -> CampaignOut:
    participants, attempts = campaign_totals(session, campaign.id)
    return CampaignOut(
        id=campaign.id,
        slug=campaign.slug,
        title=campaign.title,
        description=campaign.description,
        status=campaign.status,
        running=is_running(campaign),
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        questions_per_paper=sum(p["count"] for p in campaign.pools),
        time_limit_seconds=campaign.time_limit_seconds,
        daily_attempt_limit=campaign.daily_attempt_limit,
        points_for_completing=campaign.points_for_completing,
        points_per_correct=campaign.points_per_correct,
        points_for_all_correct=campaign.points_for_all_correct,
        allow_guests=campaign.allow_guests,
        participants=participants,
        attempts=attempts,
    )


def attempt_out(session: Session, attempt: QuizAttempt, slug: str) -> AttemptOut:
    return AttemptOut(
        id=attempt.id,
        campaign_slug=slug,
        status=attempt.status,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        questions=[PaperQuestionOut.model_validate(q) for q in paper_of(session, attempt)],
    )


def result_out(session: Session, attempt: QuizAttempt) -> ResultOut:
    return ResultOut(
        attempt_id=attempt.id,
        status=attempt.status,
        correct_count=attempt.correct_count,
        question_count=attempt.question_count,
        score=attempt.score,
        share_url=f"/quiz/results/{attempt.share_code}",
        questions=[ReviewedQuestionOut.model_validate(q) for q in paper_of(session, attempt)],
    )


def leaderboard_out(
    session: Session, campaign: QuizCampaign, participant_key: str | None
) -> LeaderboardOut:
    me = standing_of(session, campaign.id, participant_key) if participant_key else None
    return LeaderboardOut(
        people=[RankOut.model_validate(r) for r in leaderboard(session, campaign.id)],
        regions=[RankOut.model_validate(r) for r in region_leaderboard(session, campaign.id)],
        me=MyStandingOut.model_validate(me) if me else None,
    )


def bank_out(session: Session, bank: QuestionBank) -> BankOut:
    count = session.scalar(select(func.count(Question.id)).where(Question.bank_id == bank.id))
    return BankOut(
        id=bank.id, organisation_id=bank.organisation_id, name=bank.name, questions=int(count or 0)
    )
