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
import random
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, jobs, spreadsheets
from gongchuang.core.db import upsert, utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Job, Organisation, Person, Region
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.core.web import local_today
from gongchuang.training import service
from gongchuang.training.models import (
    REGION_TALLY_SHARDS,
    AttemptStatus,
    CampaignStatus,
    Question,
    QuestionBank,
    QuestionKind,
    QuizAttempt,
    QuizAudience,
    QuizCampaign,
    QuizRegionTally,
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
    bank = session.get(QuestionBank, bank_id)
    organisation = session.get(Organisation, bank.organisation_id) if bank else None
    if bank is None or not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    return bank


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
    "single": "single", "单选": "single", "单选题": "single",
    "multiple": "multiple", "多选": "multiple", "多选题": "multiple",
    "true_false": "true_false", "判断": "true_false", "判断题": "true_false",
}  # fmt: skip
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
    if errors:
        raise InvalidInput(
            N_("Line %(line)s: %(problem)s. Nothing from this file was stored."),
            line=errors[0]["line"],
            problem=errors[0]["message"],
            errors=errors,
        )
    session.add_all([_question(bank, item) for item in parsed])
    session.flush()
    audit.record(
        session, actor, "training.question.import", "training_question_bank", bank.id,
        after={"questions": len(parsed), "file": filename[:100]},
    )  # fmt: skip
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
    service._errors_or_raise(errors)
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
    if session.scalar(select(QuizCampaign.id).where(QuizCampaign.slug == data.slug)):
        raise Conflict(N_("Another campaign already uses this web address"))
    campaign = QuizCampaign(organisation_id=organisation.id, **fields)
    session.add(campaign)
    session.flush()
    audit.record(session, actor, "training.campaign.create", "training_quiz_campaign", campaign.id)
    return campaign


def get_campaign_to_edit(session: Session, actor: Principal, campaign_id: int) -> QuizCampaign:
    campaign = session.get(QuizCampaign, campaign_id)
    organisation = session.get(Organisation, campaign.organisation_id) if campaign else None
    if campaign is None or not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    return campaign


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
        campaign = QuizCampaign(organisation_id=organisation.id, status=CampaignStatus.open)
        session.add(campaign)
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
    province_id = int(region.path.strip("/").split("/")[0])
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


def masked_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else "*"


def participant_for_person(
    session: Session, principal: Principal, nickname: str = ""
) -> Participant:
    if principal.person_id is None:
        raise NotFound()
    person = session.get(Person, principal.person_id)
    assert person is not None
    shown = clean_text(nickname, "nickname", max_length=20, required=False) or masked_name(
        person.name
    )
    return Participant(f"p:{person.id}", person.id, shown, person.home_region_id)


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


def _ranking_region(session: Session, region_id: int | None, level: str) -> int | None:
    region = session.get(Region, region_id) if region_id else None
    if region is None:
        return None
    if region.level == level:
        return region.id
    ids = [int(part) for part in region.path.strip("/").split("/") if part]
    return session.scalar(select(Region.id).where(Region.id.in_(ids), Region.level == level))


def _pool_filter(bank_id: int, tag: str) -> list[Any]:
    conditions = [Question.bank_id == bank_id, Question.active.is_(True)]
    if tag:
        conditions.append(Question.tag == tag)
    return conditions


def _draw_paper(session: Session, campaign: QuizCampaign) -> list[dict[str, Any]]:
    rng = random.SystemRandom()
    paper: list[dict[str, Any]] = []
    for pool in campaign.pools:
        rows = session.execute(
            select(Question.id, Question.options).where(
                *_pool_filter(pool["bank_id"], pool["tag"]),
                Question.id.not_in([p["q"] for p in paper]),
            )
        ).all()
        if len(rows) < pool["count"]:
            raise Conflict(N_("This quiz has too few questions right now; try again later"))
        for question_id, options in rng.sample(rows, pool["count"]):
            order = list(range(len(options)))
            if len(options) > 2 or options != TRUE_FALSE_OPTIONS:
                rng.shuffle(order)
            paper.append({"q": question_id, "order": order})
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
        course = session.scalar(
            select(service.Course).where(service.Course.quiz_campaign_id == campaign.id)
        )
        if (
            course is None
            or participant.person_id is None
            or service.enrolment_of(session, participant.person_id, course.id) is None
        ):
            raise NotFound()
    active = session.scalar(
        select(QuizAttempt).where(
            QuizAttempt.campaign_id == campaign.id,
            QuizAttempt.participant_key == participant.key,
            QuizAttempt.status == AttemptStatus.active,
        )
    )
    if active is not None:
        if now <= active.deadline_at + GRACE:
            return active
        active.status = AttemptStatus.expired
        session.flush()
    today = local_today()
    used = session.scalar(
        select(func.count(QuizAttempt.id)).where(
            QuizAttempt.campaign_id == campaign.id,
            QuizAttempt.participant_key == participant.key,
            QuizAttempt.local_day == today,
        )
    )
    if (used or 0) >= campaign.daily_attempt_limit:
        raise Conflict(
            N_("You have used today's %(count)s attempts; come back tomorrow"),
            count=campaign.daily_attempt_limit,
        )
    paper = _draw_paper(session, campaign)
    attempt = QuizAttempt(
        campaign_id=campaign.id,
        participant_key=participant.key,
        person_id=participant.person_id,
        nickname=participant.nickname,
        ranking_region_id=_ranking_region(session, participant.region_id, campaign.ranking_level),
        local_day=today,
        started_at=now,
        deadline_at=now + timedelta(seconds=campaign.time_limit_seconds),
        status=AttemptStatus.active,
        paper=paper,
        question_count=len(paper),
        share_code=secrets.token_urlsafe(9),
    )
    try:
        with session.begin_nested():
            session.add(attempt)
    except IntegrityError:
        # The same participant pressed "start" twice at once: the other request's attempt won.
        winner = session.scalar(
            select(QuizAttempt).where(
                QuizAttempt.campaign_id == campaign.id,
                QuizAttempt.participant_key == participant.key,
                QuizAttempt.status == AttemptStatus.active,
            )
        )
        if winner is None:
            raise
        return winner
    return attempt


def get_attempt_for(session: Session, attempt_id: int, participant_key: str) -> QuizAttempt:
    attempt = session.get(QuizAttempt, attempt_id)
    if attempt is None or not secrets.compare_digest(attempt.participant_key, participant_key):
        raise NotFound()
    return attempt


def _questions(session: Session, attempt: QuizAttempt) -> dict[int, Question]:
    ids = [item["q"] for item in attempt.paper]
    return {q.id: q for q in session.scalars(select(Question).where(Question.id.in_(ids)))}


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
    attempt = get_attempt_for(session, attempt_id, participant_key)
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
    questions = _questions(session, attempt)
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
    campaign = session.get(QuizCampaign, attempt.campaign_id)
    assert campaign is not None
    score = score_of(campaign, correct, len(attempt.paper))
    result = session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.status == AttemptStatus.active)
        .values(
            status=AttemptStatus.submitted,
            answers=chosen_options,
            submission_key=submission_key,
            submitted_at=now,
            correct_count=correct,
            score=score,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(attempt)
    if not getattr(result, "rowcount", 0):
        # A concurrent submission got there first: same key is a resend, another is refused.
        if attempt.status == AttemptStatus.submitted and attempt.submission_key == submission_key:
            return attempt
        raise Conflict(N_("This attempt was already submitted"))
    _add_to_leaderboards(session, attempt, now)
    passed = correct * 100 >= campaign.pass_percent * len(attempt.paper)
    if campaign.audience == QuizAudience.course and attempt.person_id is not None and passed:
        service.after_quiz_passed(session, campaign.id, attempt.person_id)
    return attempt


def _add_to_leaderboards(session: Session, attempt: QuizAttempt, now: datetime) -> None:
    statement = upsert(session, QuizStanding).values(
        campaign_id=attempt.campaign_id,
        participant_key=attempt.participant_key,
        nickname=attempt.nickname,
        ranking_region_id=attempt.ranking_region_id,
        total_score=attempt.score,
        best_score=attempt.score,
        attempts=1,
        reached_at=now,
    )
    attempts = session.execute(
        statement.on_conflict_do_update(
            index_elements=["campaign_id", "participant_key"],
            set_={
                "total_score": QuizStanding.total_score + statement.excluded.total_score,
                "best_score": case(
                    (
                        statement.excluded.best_score > QuizStanding.best_score,
                        statement.excluded.best_score,
                    ),
                    else_=QuizStanding.best_score,
                ),
                "attempts": QuizStanding.attempts + 1,
                "nickname": statement.excluded.nickname,
                "reached_at": case(
                    (statement.excluded.total_score > 0, statement.excluded.reached_at),
                    else_=QuizStanding.reached_at,
                ),
            },
        ).returning(QuizStanding.attempts)
    ).scalar_one()
    if attempt.ranking_region_id is None:
        return
    tally = upsert(session, QuizRegionTally).values(
        campaign_id=attempt.campaign_id,
        region_id=attempt.ranking_region_id,
        shard=attempt.id % REGION_TALLY_SHARDS,
        total_score=attempt.score,
        attempts=1,
        participants=int(attempts == 1),
    )
    session.execute(
        tally.on_conflict_do_update(
            index_elements=["campaign_id", "region_id", "shard"],
            set_={
                "total_score": QuizRegionTally.total_score + tally.excluded.total_score,
                "attempts": QuizRegionTally.attempts + 1,
                "participants": QuizRegionTally.participants + tally.excluded.participants,
            },
        )
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
    ahead = session.scalar(
        select(func.count(QuizStanding.id)).where(
            QuizStanding.campaign_id == campaign_id,
            (QuizStanding.total_score > mine.total_score)
            | (
                (QuizStanding.total_score == mine.total_score)
                & (
                    (QuizStanding.reached_at < mine.reached_at)
                    | ((QuizStanding.reached_at == mine.reached_at) & (QuizStanding.id < mine.id))
                )
            ),
        )
    )
    everyone = session.scalar(
        select(func.count(QuizStanding.id)).where(QuizStanding.campaign_id == campaign_id)
    )
    return MyStanding(
        int(ahead or 0) + 1, mine.total_score, mine.best_score, mine.attempts, int(everyone or 0)
    )


def campaign_totals(session: Session, campaign_id: int) -> tuple[int, int]:
    """(participants, attempts) from the running totals."""
    participants, attempts = session.execute(
        select(
            func.count(QuizStanding.id), func.coalesce(func.sum(QuizStanding.attempts), 0)
        ).where(QuizStanding.campaign_id == campaign_id)
    ).one()
    return int(participants), int(attempts)
