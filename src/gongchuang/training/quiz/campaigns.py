"""Quiz campaigns: their rules, status, a course's final quiz, and whether one is running."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, refuse_if_any
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.training.models import (
    CampaignStatus,
    Question,
    QuestionBank,
    QuizAudience,
    QuizCampaign,
)
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.quiz.papers import pool_filter
from gongchuang.training.schemas import CampaignIn
from gongchuang.training.service.courses import for_publisher, get_course_to_edit

RANKING_LEVELS = ("province", "city", "county", "town", "village")


@dataclass(frozen=True)
class CampaignInput:
    slug: str
    title: str
    pools: list[dict[str, Any]]
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    time_limit_seconds: int = 600
    daily_attempt_limit: int = 3
    points_for_completing: int = 1
    points_per_correct: int = 0
    points_for_all_correct: int = 2
    pass_percent: int = 60
    allow_guests: bool = True
    ranking_level: str = "county"
    audience: str = QuizAudience.public


SCORING_RULES = (
    ("points_for_completing", N_("%(n)s points for finishing")),
    ("points_per_correct", N_("%(n)s points for each correct answer")),
    ("points_for_all_correct", N_("%(n)s more when all are correct")),
)


def scoring_text(campaign: QuizCampaign) -> str:
    """The campaign's scoring as said to players; a rule that gives nothing is left unsaid (no
    "0 points for each correct answer"). Empty when nothing scores."""
    parts = [
        gettext(words, n=getattr(campaign, name))
        for name, words in SCORING_RULES
        if getattr(campaign, name)
    ]
    return gettext("Scoring: %(rules)s.", rules=gettext("; ").join(parts)) if parts else ""


def _campaign_fields(
    session: Session, organisation: Organisation, data: CampaignInput
) -> dict[str, Any]:
    errors: list[dict[str, object]] = []
    fields: dict[str, Any] = {}
    try:
        fields["title"] = clean_text(data.title, "title", max_length=200)
    except InvalidInput as exc:
        errors += exc.errors
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{2,59}", data.slug or ""):
        errors.append({"field": "slug", "message": N_("3-60 lowercase letters, digits, hyphens")})
    if not data.pools or len(data.pools) > 20:
        errors.append({"field": "pools", "message": N_("1 to 20 pools")})
    pools = []
    for pool in data.pools or []:
        bank = session.get(QuestionBank, pool.get("bank_id"))
        count = pool.get("count")
        tag = str(pool.get("tag") or "").strip().lower()
        if bank is None or bank.organisation_id != organisation.id:
            errors.append({"field": "pools", "message": N_("a bank of this organisation")})
            continue
        if not isinstance(count, int) or not 1 <= count <= 100:
            errors.append({"field": "pools", "message": N_("count 1 to 100")})
            continue
        available = session.scalar(
            select(func.count(Question.id)).where(*pool_filter(bank.id, tag))
        )
        if (available or 0) < count:
            errors.append(
                {
                    "field": "pools",
                    "message": gettext(
                        N_("“%(bank)s” has only %(available)s such questions"),
                        bank=bank.name,
                        available=available or 0,
                    ),
                }
            )
        pools.append({"bank_id": bank.id, "tag": tag, "count": count})
    for name, low, high in (
        ("time_limit_seconds", 30, 7200),
        ("daily_attempt_limit", 1, 100),
        ("points_for_completing", 0, 1000),
        ("points_per_correct", 0, 1000),
        ("points_for_all_correct", 0, 1000),
        ("pass_percent", 0, 100),
    ):
        value = getattr(data, name)
        if not low <= value <= high:
            errors.append(
                {"field": name, "message": gettext(N_("%(low)s to %(high)s"), low=low, high=high)}
            )
        fields[name] = value
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        errors.append({"field": "ends_at", "message": N_("before the start")})
    if data.ranking_level not in RANKING_LEVELS:
        errors.append(
            {"field": "ranking_level", "message": N_("Please choose one of the options.")}
        )
    if data.audience not in QuizAudience.__members__:
        errors.append({"field": "audience", "message": N_("public or course")})
    refuse_if_any(errors)
    return {
        **fields,
        "slug": data.slug,
        "pools": pools,
        "description": (data.description or "").strip()[:5000],
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
        "allow_guests": data.allow_guests and data.audience == QuizAudience.public,
        "ranking_level": data.ranking_level,
        "audience": data.audience,
    }


def create_campaign(
    session: Session, actor: Principal, organisation: Organisation, data: CampaignInput
) -> QuizCampaign:
    if not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    fields = _campaign_fields(session, organisation, data)
    campaign = QuizCampaign(organisation_id=organisation.id, **fields)
    _add_campaign(session, campaign)
    audit.record(session, actor, "training.campaign.create", "training_quiz_campaign", campaign.id)
    return campaign


def _add_campaign(session: Session, campaign: QuizCampaign) -> None:
    """A campaign's web address is unique (uq_training_quiz_campaign_slug): of two campaigns
    given the same one at once, the second is told so."""
    try:
        with session.begin_nested():
            session.add(campaign)
            session.flush()
    except IntegrityError:
        if session.scalar(select(QuizCampaign.id).where(QuizCampaign.slug == campaign.slug)):
            raise Conflict(N_("Another campaign already uses this web address")) from None
        raise


def get_campaign_to_edit(session: Session, actor: Principal, campaign_id: int) -> QuizCampaign:
    return for_publisher(session, actor, session.get(QuizCampaign, campaign_id))


def set_campaign_status(
    session: Session, actor: Principal, campaign_id: int, status: str
) -> QuizCampaign:
    campaign = get_campaign_to_edit(session, actor, campaign_id)
    if status not in CampaignStatus.__members__:
        raise InvalidInput(N_("Unknown status"))
    if campaign.status != status:
        campaign.status = status
        audit.record(
            session, actor, f"training.campaign.{status}", "training_quiz_campaign", campaign.id
        )
    return campaign


def set_course_quiz(
    session: Session,
    actor: Principal,
    course_id: int,
    *,
    bank_id: int,
    tag: str,
    count: int,
    pass_percent: int,
    time_limit_seconds: int = 900,
) -> QuizCampaign:
    """A course's final quiz: a campaign of audience "course", open while the course is."""
    course = get_course_to_edit(session, actor, course_id)
    organisation = session.get(Organisation, course.organisation_id)
    if organisation is None:
        raise LookupError(f"organisation {course.organisation_id} of course {course.id}")
    data = CampaignInput(
        slug=f"course-{course.id}",
        title=course.title,
        pools=[{"bank_id": bank_id, "tag": tag, "count": count}],
        time_limit_seconds=time_limit_seconds,
        daily_attempt_limit=5,
        points_for_completing=0,
        points_per_correct=1,
        points_for_all_correct=0,
        pass_percent=pass_percent,
        allow_guests=False,
        audience=QuizAudience.course,
    )
    fields = _campaign_fields(session, organisation, data)
    campaign = (
        session.get(QuizCampaign, course.quiz_campaign_id) if course.quiz_campaign_id else None
    )
    if campaign is None:
        campaign = QuizCampaign(
            organisation_id=organisation.id, status=CampaignStatus.open, **fields
        )
        _add_campaign(session, campaign)
    else:
        for name, value in fields.items():
            setattr(campaign, name, value)
        session.flush()
    course.quiz_campaign_id = campaign.id
    audit.record(session, actor, "training.course.quiz", "training_course", course.id)
    return campaign


def campaign_by_slug(session: Session, slug: str) -> QuizCampaign:
    campaign = session.scalar(select(QuizCampaign).where(QuizCampaign.slug == slug[:60]))
    if campaign is None or campaign.status == CampaignStatus.draft:
        raise NotFound()
    return campaign


def is_running(campaign: QuizCampaign, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        campaign.status == CampaignStatus.open
        and (campaign.starts_at is None or campaign.starts_at <= now)
        and (campaign.ends_at is None or now < campaign.ends_at)
    )


def publish_campaign(
    session: Session, actor: Principal, organisation: Organisation, command: CampaignIn
) -> QuizCampaign:
    """A campaign as the API and the publishing page create it: open at once unless asked to
    stay a draft."""
    campaign = create_campaign(
        session,
        actor,
        organisation,
        CampaignInput(
            **command.model_dump(exclude={"organisation_id", "open_now", "pools"}),
            pools=[pool.model_dump() for pool in command.pools],
        ),
    )
    if command.open_now:
        set_campaign_status(session, actor, campaign.id, "open")
    return campaign
