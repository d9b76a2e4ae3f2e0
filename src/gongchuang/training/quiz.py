"""The quiz engine: question banks, campaigns drawing a random paper per attempt, server-side
scoring and leaderboards that stay correct under thousands of submissions a second.

Anti-cheat is in the shape of the data: the paper a participant receives carries stems and
options in a per-attempt shuffled order and never the answers; answers come back as shown
positions and are mapped and scored here; one active attempt per participant is a partial
unique index; a submission carries an idempotency key, so a resend returns the first result and
a second, different submission is refused.

Quiz answers are not written to the audit chain: they are a participant's own play, not an
administrative act, and a serialised hash chain would cap throughput at its lock.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gongchuang.core import audit, jobs, regions, spreadsheets
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, refuse_bad_rows, refuse_if_any
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Job, Organisation, Person, Region
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.training import service
from gongchuang.training.models import (
    REGION_TALLY_SHARDS,
    AttemptStatus,
    CampaignStatus,
    Course,
    Question,
    QuestionBank,
    QuestionKind,
    QuizAttempt,
    QuizAudience,
    QuizCampaign,
    QuizRegionTally,
    QuizScoreBucket,
    QuizStanding,
)
from gongchuang.training.permissions import TrainingPerm

# A paper submitted this long after its deadline still counts: the phone's last tap and a slow
# network should not cost a villager the attempt.
GRACE = timedelta(seconds=15)
TRUE_FALSE_OPTIONS = ["正确", "错误"]
MAX_OPTIONS = 6
SUBMISSION_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
RANKING_LEVELS = ("province", "city", "county", "town", "village")

jobs.register_periodic("training.expire_attempts", 300)


# --- banks and questions ----------------------------------------------------------------------


def create_bank(
    session: Session, actor: Principal, organisation: Organisation, name: str, description: str = ""
) -> QuestionBank:
    if not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    bank = QuestionBank(
        organisation_id=organisation.id,
        name=clean_text(name, "name", max_length=200),
        description=(description or "").strip()[:2000],
    )
    session.add(bank)
    session.flush()
    audit.record(session, actor, "training.bank.create", "training_question_bank", bank.id)
    return bank


def get_bank_for(session: Session, actor: Principal, bank_id: int) -> QuestionBank:
    return service.for_publisher(session, actor, session.get(QuestionBank, bank_id))


def banks_of(session: Session, organisation_id: int) -> list[QuestionBank]:
    return list(
        session.scalars(
            select(QuestionBank)
            .where(QuestionBank.organisation_id == organisation_id)
            .order_by(QuestionBank.id)
        )
    )


@dataclass(frozen=True)
class QuestionInput:
    kind: str
    stem: str
    options: list[str]
    correct: list[int]
    explanation: str = ""
    source: str = ""
    tag: str = ""


def question_problems(data: QuestionInput) -> list[str]:
    problems = []
    if data.kind not in QuestionKind.__members__:
        return [f"kind must be single, multiple or true_false, not {data.kind!r}"]
    if not data.stem.strip() or len(data.stem) > 2000:
        problems.append("the question text is empty or longer than 2000 characters")
    options = TRUE_FALSE_OPTIONS if data.kind == QuestionKind.true_false else data.options
    if data.kind != QuestionKind.true_false:
        if not 2 <= len(options) <= MAX_OPTIONS or any(not o.strip() for o in options):
            problems.append(f"between 2 and {MAX_OPTIONS} non-empty options")
        elif len(set(options)) != len(options):
            problems.append("two options are the same")
    if any(len(o) > 500 for o in options):
        problems.append("an option is longer than 500 characters")
    correct = set(data.correct)
    if not correct or any(not 0 <= i < len(options) for i in correct):
        problems.append("the answer names no option, or one that does not exist")
    elif data.kind != QuestionKind.multiple and len(correct) != 1:
        problems.append("this kind of question has exactly one answer")
    elif data.kind == QuestionKind.multiple and len(correct) < 2:
        problems.append("a multiple-choice question has at least two answers (else: single)")
    if not data.explanation.strip():
        problems.append("an explanation is required: it is what the participant learns from")
    if len(data.explanation) > 5000 or len(data.source) > 300 or len(data.tag) > 40:
        problems.append("explanation, source or tag too long")
    return problems


def _question(bank: QuestionBank, data: QuestionInput) -> Question:
    return Question(
        bank_id=bank.id,
        kind=data.kind,
        stem=data.stem.strip(),
        options=TRUE_FALSE_OPTIONS
        if data.kind == QuestionKind.true_false
        else [o.strip() for o in data.options],
        correct=sorted(set(data.correct)),
        explanation=data.explanation.strip(),
        source=data.source.strip(),
        tag=data.tag.strip().lower(),
    )


def add_question(session: Session, actor: Principal, bank_id: int, data: QuestionInput) -> Question:
    bank = get_bank_for(session, actor, bank_id)
    problems = question_problems(data)
    if problems:
        raise InvalidInput(
            N_("The question is not valid: %(problem)s"),
            problem=problems[0],
            errors=[{"field": "question", "message": p} for p in problems],
        )
    question = _question(bank, data)
    session.add(question)
    session.flush()
    audit.record(session, actor, "training.question.add", "training_question", question.id)
    return question


def questions_of(session: Session, bank_id: int) -> list[Question]:
    return list(
        session.scalars(select(Question).where(Question.bank_id == bank_id).order_by(Question.id))
    )


QUESTION_COLUMNS = {
    "kind": ("kind", "type", "题型"),
    "stem": ("stem", "question", "题目", "题干"),
    "answer": ("answer", "答案", "正确答案"),
    "explanation": ("explanation", "解析", "答案解析"),
    "source": ("source", "来源", "出处"),
    "tag": ("tag", "标签", "分类"),
    **{
        f"option_{letter}": (f"option_{letter}", f"选项{letter.upper()}", letter.upper())
        for letter in "abcdef"
    },
}
KIND_NAMES = {
    "single": "single",
    "单选": "single",
    "单选题": "single",
    "multiple": "multiple",
    "多选": "multiple",
    "多选题": "multiple",
    "true_false": "true_false",
    "判断": "true_false",
    "判断题": "true_false",
}
TRUE_WORDS = {"对", "正确", "是", "√", "true", "t", "yes", "a"}
FALSE_WORDS = {"错", "错误", "否", "×", "false", "f", "no", "b"}


def _answer_indexes(kind: str, answer: str) -> list[int]:
    answer = answer.strip().lower()
    if kind == QuestionKind.true_false:
        if answer in TRUE_WORDS:
            return [0]
        if answer in FALSE_WORDS:
            return [1]
        return []
    letters = re.sub(r"[\s,，、;；]", "", answer)
    if not letters or any(ch not in "abcdef" for ch in letters):
        return []
    return [ord(ch) - ord("a") for ch in letters]


def import_questions(
    session: Session, actor: Principal, bank_id: int, data: bytes, filename: str
) -> int:
    """Questions from a spreadsheet (题型, 题目, 选项A–F, 答案, 解析, 来源, 标签): all or
    nothing, every bad row listed with its line."""
    bank = get_bank_for(session, actor, bank_id)
    rows = spreadsheets.read_rows(
        data, filename, QUESTION_COLUMNS, required={"kind", "stem", "answer", "explanation"}
    )
    errors: list[dict[str, object]] = []
    parsed = []
    seen: dict[str, int] = {}
    for row in rows:
        kind = KIND_NAMES.get(row.values["kind"].strip().lower(), row.values["kind"].strip())
        options = [
            row.values.get(f"option_{letter}", "").strip()
            for letter in "abcdef"
            if row.values.get(f"option_{letter}", "").strip()
        ]
        item = QuestionInput(
            kind=kind,
            stem=row.values["stem"],
            options=options,
            correct=_answer_indexes(kind, row.values["answer"]),
            explanation=row.values["explanation"],
            source=row.values.get("source", ""),
            tag=row.values.get("tag", ""),
        )
        problems = question_problems(item)
        stem = item.stem.strip()
        if stem in seen:
            problems.append(f"the same question is on line {seen[stem]}")
        seen.setdefault(stem, row.line)
        errors += [{"line": row.line, "message": p} for p in problems]
        parsed.append(item)
    spreadsheets.name_rows(errors, rows, "stem")
    refuse_bad_rows(errors)
    session.add_all([_question(bank, item) for item in parsed])
    session.flush()
    audit.record(
        session,
        actor,
        "training.question.import",
        "training_question_bank",
        bank.id,
        after={"questions": len(parsed), "file": filename[:100]},
    )
    return len(parsed)


# --- campaigns --------------------------------------------------------------------------------


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
        errors.append({"field": "slug", "message": "3-60 lowercase letters, digits, hyphens"})
    if not data.pools or len(data.pools) > 20:
        errors.append({"field": "pools", "message": "1 to 20 pools"})
    pools = []
    for pool in data.pools or []:
        bank = session.get(QuestionBank, pool.get("bank_id"))
        count = pool.get("count")
        tag = str(pool.get("tag") or "").strip().lower()
        if bank is None or bank.organisation_id != organisation.id:
            errors.append({"field": "pools", "message": "a bank of this organisation"})
            continue
        if not isinstance(count, int) or not 1 <= count <= 100:
            errors.append({"field": "pools", "message": "count 1 to 100"})
            continue
        available = session.scalar(
            select(func.count(Question.id)).where(*_pool_filter(bank.id, tag))
        )
        if (available or 0) < count:
            errors.append(
                {"field": "pools", "message": f"pool {bank.name}/{tag or '*'} has {available}"}
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
            errors.append({"field": name, "message": f"{low} to {high}"})
        fields[name] = value
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        errors.append({"field": "ends_at", "message": "before the start"})
    if data.ranking_level not in RANKING_LEVELS:
        errors.append({"field": "ranking_level", "message": f"one of {RANKING_LEVELS}"})
    if data.audience not in QuizAudience.__members__:
        errors.append({"field": "audience", "message": "public or course"})
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
    return service.for_publisher(session, actor, session.get(QuizCampaign, campaign_id))


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
    course = service.get_course_to_edit(session, actor, course_id)
    organisation = session.get(Organisation, course.organisation_id)
    assert organisation is not None
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


def is_running(campaign: QuizCampaign, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        campaign.status == CampaignStatus.open
        and (campaign.starts_at is None or campaign.starts_at <= now)
        and (campaign.ends_at is None or now < campaign.ends_at)
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
    assert province is not None
    return list(
        session.scalars(
            select(Region)
            .where(Region.path.startswith(province.path), Region.level == campaign.ranking_level)
            .order_by(Region.code)
            .limit(500)
        )
    )


# --- participants and attempts ----------------------------------------------------------------


@dataclass(frozen=True)
class Participant:
    key: str
    person_id: int | None
    nickname: str
    region_id: int | None
    region: Region | None = None  # when already read with the person


def person_key(person_id: int) -> str:
    return f"p:{person_id}"


def participant_for_person(
    session: Session, principal: Principal, nickname: str = ""
) -> Participant:
    if principal.person_id is None:
        raise NotFound()
    # The home region comes along (into the identity map) for the ranking region's lookup.
    row = session.execute(
        select(Person.name, Person.home_region_id, Region)
        .outerjoin(Region, Region.id == Person.home_region_id)
        .where(Person.id == principal.person_id)
    ).one()
    shown = clean_text(nickname, "nickname", max_length=20, required=False) or mask_name(row.name)
    return Participant(
        person_key(principal.person_id), principal.person_id, shown, row.home_region_id, row.Region
    )


def guest_key(guest_token: str) -> str | None:
    """A guest's participant key from their browser's random token; the token itself is never
    stored."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", guest_token or ""):
        return None
    return "g:" + hashlib.sha256(guest_token.encode()).hexdigest()[:32]


def participant_for_guest(
    session: Session, guest_token: str, nickname: str, region_id: int | None = None
) -> Participant:
    key = guest_key(guest_token)
    if key is None:
        raise InvalidInput(N_("Your browser's quiz identity is missing: enable cookies"))
    shown = clean_text(nickname, "nickname", max_length=20)
    if region_id is not None and session.get(Region, region_id) is None:
        raise InvalidInput(
            N_("Unknown region"), errors=[{"field": "region_id", "message": "no such region"}]
        )
    return Participant(key, None, shown, region_id)


def new_guest_token() -> str:
    return secrets.token_urlsafe(24)


def _ranking_region(session: Session, participant: Participant, level: str) -> int | None:
    """The region itself or its ancestor at the campaign's ranking level."""
    region = participant.region or (
        session.get(Region, participant.region_id) if participant.region_id else None
    )
    if region is None or region.level == level:
        return region.id if region else None
    ids = regions.path_ids(region.path)
    return session.scalar(select(Region.id).where(Region.id.in_(ids), Region.level == level))


def _pool_filter(bank_id: int, tag: str) -> list[Any]:
    conditions = [Question.bank_id == bank_id, Question.active.is_(True)]
    if tag:
        conditions.append(Question.tag == tag)
    return conditions


POOL_SECONDS = 30
_pools: dict[tuple[object, ...], tuple[float, list[Any]]] = {}


def _pool_key(session: Session, campaign: QuizCampaign, pool: dict[str, Any]) -> tuple[object, ...]:
    # The campaign's creation time is in the key: a test database reusing ids is another pool.
    return (
        str(session.get_bind().engine.url),
        campaign.id,
        campaign.created_at,
        pool["bank_id"],
        pool["tag"],
    )


def _pool(session: Session, campaign: QuizCampaign, pool: dict[str, Any]) -> list[Any]:
    """A pool's active questions, read at most every 30 s per process: a campaign's thousands
    of papers a second draw from (and are scored against) the same few hundred questions. A
    question retired in the bank stops being drawn within that time; questions are never
    edited in place, so a kept copy is never wrong."""
    key = _pool_key(session, campaign, pool)
    now = time.monotonic()
    hit = _pools.get(key)
    if hit is not None and now - hit[0] < POOL_SECONDS:
        return hit[1]
    rows = list(
        session.execute(
            select(*PAPER_COLUMNS).where(*_pool_filter(pool["bank_id"], pool["tag"]))
        ).all()
    )
    if len(_pools) > 1000:
        _pools.clear()
    _pools[key] = (now, rows)
    return rows


def _draw_paper(session: Session, campaign: QuizCampaign) -> list[dict[str, Any]]:
    """Draw each pool's share at random; options are shown in a shuffled order per attempt."""
    rng = random.SystemRandom()
    loaded: dict[int, Any] = session.info.setdefault("training_questions", {})
    paper: list[dict[str, Any]] = []
    for pool in campaign.pools:
        drawn = {p["q"] for p in paper}
        candidates = [row for row in _pool(session, campaign, pool) if row.id not in drawn]
        if len(candidates) < pool["count"]:
            raise Conflict(N_("This quiz has too few questions right now; try again later"))
        for question in rng.sample(candidates, pool["count"]):
            loaded[question.id] = question
            order = list(range(len(question.options)))
            if question.kind != QuestionKind.true_false:
                rng.shuffle(order)
            paper.append({"q": question.id, "order": order})
    rng.shuffle(paper)
    return paper


def start_attempt(
    session: Session, campaign: QuizCampaign, participant: Participant
) -> QuizAttempt:
    """The participant's active attempt if one is still running, else a new paper (within the
    daily limit)."""
    now = utcnow()
    if not is_running(campaign, now):
        raise Conflict(N_("This quiz is not open now"))
    if participant.person_id is None and not campaign.allow_guests:
        raise Conflict(N_("Log in to take this quiz"))
    if campaign.audience == QuizAudience.course:
        course = session.scalar(select(Course).where(Course.quiz_campaign_id == campaign.id))
        if (
            course is None
            or participant.person_id is None
            or service.enrolment_of(session, participant.person_id, course.id) is None
        ):
            raise NotFound()
    today = local_today()
    _hold_daily_count(session, campaign.id, participant.key)
    # The running attempt and today's count in one indexed read.
    mine = session.execute(
        select(
            QuizAttempt.id, QuizAttempt.status, QuizAttempt.local_day, QuizAttempt.deadline_at
        ).where(
            QuizAttempt.campaign_id == campaign.id,
            QuizAttempt.participant_key == participant.key,
            (QuizAttempt.status == AttemptStatus.active) | (QuizAttempt.local_day == today),
        )
    ).all()
    active = next((a for a in mine if a.status == AttemptStatus.active), None)
    if active is not None:
        if now <= active.deadline_at + GRACE:
            running = session.get(QuizAttempt, active.id)
            assert running is not None
            return running
        session.execute(
            update(QuizAttempt)
            .where(QuizAttempt.id == active.id, QuizAttempt.status == AttemptStatus.active)
            .values(status=AttemptStatus.expired)
            .execution_options(synchronize_session=False)
        )
    if sum(1 for a in mine if a.local_day == today) >= campaign.daily_attempt_limit:
        raise Conflict(
            N_("You have used today's %(count)s attempts; come back tomorrow"),
            count=campaign.daily_attempt_limit,
        )
    paper = _draw_paper(session, campaign)
    values = {
        "campaign_id": campaign.id,
        "participant_key": participant.key,
        "person_id": participant.person_id,
        "nickname": participant.nickname,
        "ranking_region_id": _ranking_region(session, participant, campaign.ranking_level),
        "local_day": today,
        "started_at": now,
        "deadline_at": now + timedelta(seconds=campaign.time_limit_seconds),
        "status": AttemptStatus.active.value,
        "paper": paper,
        "question_count": len(paper),
        "correct_count": 0,
        "score": 0,
        "share_code": secrets.token_urlsafe(9),
    }
    # The partial unique index holds one active attempt per participant; a second "start"
    # racing this one inserts nothing and gets the winner's attempt.
    attempt = session.scalar(_attempt_insert(session), values)
    if attempt is not None:
        return attempt
    winner = session.scalar(
        select(QuizAttempt).where(
            QuizAttempt.campaign_id == campaign.id,
            QuizAttempt.participant_key == participant.key,
            QuizAttempt.status == AttemptStatus.active,
        )
    )
    if winner is None:
        raise Conflict(N_("This attempt was already submitted"))
    return winner


_DAILY_COUNT_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def _hold_daily_count(session: Session, campaign_id: int, participant_key: str) -> None:
    """On PostgreSQL, one start at a time per participant and campaign, until commit: today's
    count read next then stays true until the new attempt is in. Without it, a paper started
    and submitted from a second phone meanwhile is neither counted nor (no longer active)
    stopped by the one-active index, and the day gets one attempt over its limit. Every
    campaign has a daily limit; SQLite serialises writers already. The key is a stable hash:
    an unrelated pair sharing it only waits a moment."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(
        f"training.quiz.daily:{campaign_id}:{participant_key}".encode(), digest_size=8
    ).digest()
    session.execute(_DAILY_COUNT_LOCK, {"k": int.from_bytes(digest, "big", signed=True)})


def _attempt_insert(session: Session) -> Any:
    """Built once per dialect (see `_leaderboard_statements`)."""
    dialect = session.get_bind().dialect.name
    built = _ATTEMPT_INSERT.get(dialect)
    if built is None:
        columns = [
            c.key
            for c in QuizAttempt.__table__.columns
            if c.key not in ("id", "answers", "submission_key", "submitted_at")
        ]
        built = _ATTEMPT_INSERT[dialect] = (
            upsert(session, QuizAttempt)
            .values({name: bindparam(name) for name in columns})
            .on_conflict_do_nothing(
                index_elements=["campaign_id", "participant_key"],
                index_where=text("status = 'active'"),
            )
            .returning(QuizAttempt)
        )
    return built


_ATTEMPT_INSERT: dict[str, Any] = {}


def get_attempt_for(session: Session, attempt_id: int, participant_key: str) -> QuizAttempt:
    attempt = session.get(QuizAttempt, attempt_id)
    if attempt is None or not secrets.compare_digest(attempt.participant_key, participant_key):
        raise NotFound()
    return attempt


# Plain rows, not ORM objects: a paper's questions are read on every start and submission.
PAPER_COLUMNS = (
    Question.id,
    Question.kind,
    Question.stem,
    Question.options,
    Question.correct,
    Question.explanation,
    Question.source,
)


def _questions(
    session: Session, attempt: QuizAttempt, campaign: QuizCampaign | None = None
) -> dict[int, Any]:
    """The paper's questions: from this request's reads, else the campaign's kept pools, else
    one query (scoring and the reply both need them)."""
    loaded: dict[int, Any] = session.info.setdefault("training_questions", {})
    if campaign is not None:
        now = time.monotonic()
        for pool in campaign.pools:
            hit = _pools.get(_pool_key(session, campaign, pool))
            if hit is not None and now - hit[0] < POOL_SECONDS:
                loaded.update((row.id, row) for row in hit[1])
    missing = [item["q"] for item in attempt.paper if item["q"] not in loaded]
    if missing:
        loaded.update(
            (row.id, row)
            for row in session.execute(select(*PAPER_COLUMNS).where(Question.id.in_(missing)))
        )
    return {item["q"]: loaded[item["q"]] for item in attempt.paper}


@dataclass(frozen=True)
class PaperQuestion:
    number: int
    kind: str
    stem: str
    options: list[str]  # in the order shown to this participant
    chosen: list[int] | None = None  # shown positions, after submit
    correct: list[int] | None = None  # shown positions, after submit
    explanation: str = ""
    source: str = ""

    @property
    def is_correct(self) -> bool:
        return self.chosen is not None and sorted(self.chosen) == self.correct


def paper_of(session: Session, attempt: QuizAttempt) -> list[PaperQuestion]:
    """The questions as shown. Answers and explanations only once the attempt is submitted."""
    questions = _questions(session, attempt)
    revealed = attempt.status == AttemptStatus.submitted
    out = []
    for number, item in enumerate(attempt.paper):
        question = questions[item["q"]]
        order: list[int] = item["order"]
        shown = [question.options[i] for i in order]
        if not revealed:
            out.append(PaperQuestion(number, question.kind, question.stem, shown))
            continue
        chosen_options = (attempt.answers or [])[number] if attempt.answers else []
        out.append(
            PaperQuestion(
                number,
                question.kind,
                question.stem,
                shown,
                chosen=sorted(order.index(i) for i in chosen_options),
                correct=sorted(order.index(i) for i in question.correct),
                explanation=question.explanation,
                source=question.source,
            )
        )
    return out


def score_of(campaign: QuizCampaign, correct: int, total: int) -> int:
    score = campaign.points_for_completing + campaign.points_per_correct * correct
    if total and correct == total:
        score += campaign.points_for_all_correct
    return score


def submit_attempt(
    session: Session,
    attempt_id: int,
    participant_key: str,
    submission_key: str,
    answers: list[list[int]],
) -> QuizAttempt:
    """Score a paper. `answers` holds, per question in the order shown, the shown positions
    chosen. A resend with the same key returns the first result."""
    # The attempt with its campaign in one read: this is the hot path of a campaign.
    row = session.execute(
        select(QuizAttempt, QuizCampaign)
        .join(QuizCampaign, QuizCampaign.id == QuizAttempt.campaign_id)
        .where(QuizAttempt.id == attempt_id)
    ).first()
    if row is None or not secrets.compare_digest(row[0].participant_key, participant_key):
        raise NotFound()
    attempt, campaign = row
    if not SUBMISSION_KEY.fullmatch(submission_key or ""):
        raise InvalidInput(
            N_("A submission needs a key of 8 to 64 letters, digits, - or _"),
            errors=[{"field": "submission_key", "message": "invalid"}],
        )
    if attempt.status == AttemptStatus.submitted:
        if attempt.submission_key == submission_key:
            return attempt
        raise Conflict(N_("This attempt was already submitted"))
    if attempt.status == AttemptStatus.expired:
        raise Conflict(N_("This attempt is closed: its time ran out"))
    now = utcnow()
    if now > attempt.deadline_at + GRACE:
        raise Conflict(
            N_("The time limit of this attempt has passed: the answers were not counted")
        )
    questions = _questions(session, attempt, campaign)
    if len(answers) != len(attempt.paper):
        raise InvalidInput(
            N_("Answer every question (%(count)s), even if only with an empty choice"),
            count=len(attempt.paper),
            errors=[{"field": "answers", "message": f"expected {len(attempt.paper)} lists"}],
        )
    chosen_options: list[list[int]] = []
    correct = 0
    for number, (item, shown) in enumerate(zip(attempt.paper, answers, strict=True)):
        question = questions[item["q"]]
        order: list[int] = item["order"]
        if (
            len(set(shown)) != len(shown)
            or any(not 0 <= s < len(order) for s in shown)
            or (question.kind != QuestionKind.multiple and len(shown) > 1)
        ):
            raise InvalidInput(
                N_("Question %(number)s: choose among its options"),
                number=number + 1,
                errors=[{"field": f"answers[{number}]", "message": "not a valid choice"}],
            )
        options = sorted(order[s] for s in shown)
        chosen_options.append(options)
        correct += int(options == sorted(question.correct))
    score = score_of(campaign, correct, len(attempt.paper))
    if session.get_bind().dialect.name == "postgresql":
        recorded = _record_submission_postgres(
            session, attempt, chosen_options, submission_key, now, correct, score
        )
    else:
        recorded = _record_submission(
            session, attempt, chosen_options, submission_key, now, correct, score
        )
    if recorded:
        for name, value in (
            ("status", AttemptStatus.submitted.value),
            ("answers", chosen_options),
            ("submission_key", submission_key),
            ("submitted_at", now),
            ("correct_count", correct),
            ("score", score),
        ):
            set_committed_value(attempt, name, value)
    else:
        # A concurrent submission got there first: same key is a resend, another is refused.
        session.refresh(attempt)
        if attempt.status == AttemptStatus.submitted and attempt.submission_key == submission_key:
            return attempt
        raise Conflict(N_("This attempt was already submitted"))
    passed = correct * 100 >= campaign.pass_percent * len(attempt.paper)
    if campaign.audience == QuizAudience.course and attempt.person_id is not None and passed:
        service.after_quiz_passed(session, campaign.id, attempt.person_id)
    return attempt


def _record_submission(
    session: Session,
    attempt: QuizAttempt,
    answers: list[list[int]],
    submission_key: str,
    now: datetime,
    correct: int,
    score: int,
) -> bool:
    """Close the attempt if it is still active, then add it to the running totals."""
    closed = session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.status == AttemptStatus.active)
        .values(
            status=AttemptStatus.submitted,
            answers=answers,
            submission_key=submission_key,
            submitted_at=now,
            correct_count=correct,
            score=score,
        )
        .returning(QuizAttempt.id)
        .execution_options(synchronize_session=False)
    ).first()
    if closed is None:
        return False
    _add_to_leaderboards(session, attempt, score, now)
    return True


# The same as `_record_submission`, in one round trip on PostgreSQL (data-modifying CTEs):
# close the attempt, add to the participant's total, move them between score buckets (old total
# first: totals only grow, so bucket locks are always taken in ascending order), add to the
# region's tally. Nothing is added when the attempt was no longer active.
SUBMISSION_SQL = text("""
WITH closed AS (
    UPDATE training_quiz_attempt
    SET status = 'submitted', answers = CAST(:answers AS json), submission_key = :submission_key,
        submitted_at = :now, correct_count = :correct, score = :score
    WHERE id = :attempt_id AND status = 'active'
    RETURNING id
), standing AS (
    INSERT INTO training_quiz_standing AS s (campaign_id, participant_key, nickname,
        ranking_region_id, total_score, best_score, attempts, reached_at)
    SELECT :campaign_id, :participant_key, :nickname, :region_id, :score, :score, 1, :now
    FROM closed
    ON CONFLICT (campaign_id, participant_key) DO UPDATE SET
        total_score = s.total_score + excluded.total_score,
        best_score = GREATEST(s.best_score, excluded.best_score),
        attempts = s.attempts + 1,
        nickname = excluded.nickname,
        reached_at = CASE WHEN excluded.total_score > 0 THEN excluded.reached_at
                          ELSE s.reached_at END
    RETURNING s.attempts, s.total_score
), buckets AS (
    INSERT INTO training_quiz_score_bucket AS b (campaign_id, total_score, shard, participants,
        submissions)
    SELECT :campaign_id, moves.total_score, :shard, moves.participants, moves.submissions
    FROM standing, LATERAL (VALUES
        (1, standing.total_score - :score, -1, 0,
            standing.attempts > 1 AND :score > 0),
        (2, standing.total_score,
            CASE WHEN standing.attempts = 1 OR :score > 0 THEN 1 ELSE 0 END, 1, true)
    ) AS moves(step, total_score, participants, submissions, wanted)
    WHERE moves.wanted
    ORDER BY moves.step
    ON CONFLICT (campaign_id, total_score, shard) DO UPDATE SET
        participants = b.participants + excluded.participants,
        submissions = b.submissions + excluded.submissions
), tally AS (
    INSERT INTO training_quiz_region_tally AS t (campaign_id, region_id, shard, total_score,
        attempts, participants)
    SELECT :campaign_id, :region_id, :shard, :score, 1,
        CASE WHEN standing.attempts = 1 THEN 1 ELSE 0 END
    FROM standing WHERE CAST(:region_id AS integer) IS NOT NULL
    ON CONFLICT (campaign_id, region_id, shard) DO UPDATE SET
        total_score = t.total_score + excluded.total_score,
        attempts = t.attempts + 1,
        participants = t.participants + excluded.participants
)
SELECT count(*) FROM closed
""")


def _record_submission_postgres(
    session: Session,
    attempt: QuizAttempt,
    answers: list[list[int]],
    submission_key: str,
    now: datetime,
    correct: int,
    score: int,
) -> bool:
    closed = session.execute(
        SUBMISSION_SQL,
        {
            "answers": json.dumps(answers),
            "submission_key": submission_key,
            "now": now,
            "correct": correct,
            "score": score,
            "attempt_id": attempt.id,
            "campaign_id": attempt.campaign_id,
            "participant_key": attempt.participant_key,
            "nickname": attempt.nickname,
            "region_id": attempt.ranking_region_id,
            "shard": attempt.id % REGION_TALLY_SHARDS,
        },
    ).scalar_one()
    return bool(closed)


def _leaderboard_statements(session: Session) -> tuple[Any, Any, Any]:
    """The running-total upserts, built once per dialect: building `excluded` and its
    column proxies costs more than executing the statement, on every submission."""
    dialect = session.get_bind().dialect.name
    built = _LEADERBOARD_STATEMENTS.get(dialect)
    if built is None:
        standing = upsert(session, QuizStanding).values(
            {
                name: bindparam(name)
                for name in (
                    "campaign_id",
                    "participant_key",
                    "nickname",
                    "ranking_region_id",
                    "total_score",
                    "best_score",
                    "attempts",
                    "reached_at",
                )
            }
        )
        new = standing.excluded
        standing = standing.on_conflict_do_update(
            index_elements=["campaign_id", "participant_key"],
            set_={
                "total_score": QuizStanding.total_score + new.total_score,
                "best_score": case(
                    (new.best_score > QuizStanding.best_score, new.best_score),
                    else_=QuizStanding.best_score,
                ),
                "attempts": QuizStanding.attempts + 1,
                "nickname": new.nickname,
                "reached_at": case(
                    (new.total_score > 0, new.reached_at), else_=QuizStanding.reached_at
                ),
            },
        ).returning(QuizStanding.attempts, QuizStanding.total_score)
        bucket = upsert(session, QuizScoreBucket).values(
            {
                name: bindparam(name)
                for name in ("campaign_id", "total_score", "shard", "participants", "submissions")
            }
        )
        bucket = bucket.on_conflict_do_update(
            index_elements=["campaign_id", "total_score", "shard"],
            set_={
                "participants": QuizScoreBucket.participants + bucket.excluded.participants,
                "submissions": QuizScoreBucket.submissions + bucket.excluded.submissions,
            },
        )
        tally = upsert(session, QuizRegionTally).values(
            {
                name: bindparam(name)
                for name in (
                    "campaign_id",
                    "region_id",
                    "shard",
                    "total_score",
                    "attempts",
                    "participants",
                )
            }
        )
        tally = tally.on_conflict_do_update(
            index_elements=["campaign_id", "region_id", "shard"],
            set_={
                "total_score": QuizRegionTally.total_score + tally.excluded.total_score,
                "attempts": QuizRegionTally.attempts + 1,
                "participants": QuizRegionTally.participants + tally.excluded.participants,
            },
        )
        built = _LEADERBOARD_STATEMENTS[dialect] = (standing, bucket, tally)
    return built


_LEADERBOARD_STATEMENTS: dict[str, tuple[Any, Any, Any]] = {}


def _add_to_leaderboards(session: Session, attempt: QuizAttempt, score: int, now: datetime) -> None:
    standing, bucket, tally = _leaderboard_statements(session)
    attempts, total = session.execute(
        standing,
        {
            "campaign_id": attempt.campaign_id,
            "participant_key": attempt.participant_key,
            "nickname": attempt.nickname,
            "ranking_region_id": attempt.ranking_region_id,
            "total_score": score,
            "best_score": score,
            "attempts": 1,
            "reached_at": now,
        },
    ).one()
    # The participant moves from the bucket of their old total to the new one (totals only
    # grow, so every transaction takes bucket locks in ascending order: no deadlock).
    shard = attempt.id % REGION_TALLY_SHARDS
    moves = [
        {
            "total_score": total,
            "participants": int(attempts == 1 or score > 0),
            "submissions": 1,
        }
    ]
    if attempts > 1 and score > 0:
        moves.insert(0, {"total_score": total - score, "participants": -1, "submissions": 0})
    session.execute(
        bucket, [{"campaign_id": attempt.campaign_id, "shard": shard, **move} for move in moves]
    )
    if attempt.ranking_region_id is None:
        return
    session.execute(
        tally,
        {
            "campaign_id": attempt.campaign_id,
            "region_id": attempt.ranking_region_id,
            "shard": shard,
            "total_score": score,
            "attempts": 1,
            "participants": int(attempts == 1),
        },
    )


def expire_overdue(session: Session, now: datetime | None = None) -> int:
    now = now or utcnow()
    result = session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.status == AttemptStatus.active, QuizAttempt.deadline_at < now - GRACE)
        .values(status=AttemptStatus.expired)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@jobs.job_handler("training.expire_attempts", lease_seconds=300)
def _expire_attempts(session: Session, job: Job) -> None:
    expire_overdue(session)


def attempt_by_share_code(session: Session, code: str) -> QuizAttempt:
    attempt = session.scalar(select(QuizAttempt).where(QuizAttempt.share_code == code[:16]))
    if attempt is None or attempt.status != AttemptStatus.submitted:
        raise NotFound()
    return attempt


# --- leaderboards -----------------------------------------------------------------------------


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
