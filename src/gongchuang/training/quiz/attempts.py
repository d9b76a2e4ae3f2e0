"""Attempts: starting one within the daily limit, submitting and scoring it once, expiring
those whose time ran out."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.training.models import (
    AttemptStatus,
    QuestionKind,
    QuizAttempt,
    QuizAudience,
    QuizCampaign,
)
from gongchuang.training.quiz.campaigns import is_running
from gongchuang.training.quiz.papers import paper_questions, pool_rows
from gongchuang.training.quiz.participants import (
    Participant,
    participant_for_person,
    ranking_region_of,
)
from gongchuang.training.quiz.tallies import record_submission, record_submission_postgres
from gongchuang.training.schemas import SubmissionIn
from gongchuang.training.service._common import course_of_quiz, enrolment_of
from gongchuang.training.service.courses import get_course
from gongchuang.training.service.learning import after_quiz_passed

# A paper submitted this long after its deadline still counts: the phone's last tap and a slow
# network should not cost a villager the attempt.
GRACE = timedelta(seconds=15)
SUBMISSION_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _draw_paper(session: Session, campaign: QuizCampaign) -> list[dict[str, Any]]:
    """Draw each pool's share at random; options are shown in a shuffled order per attempt."""
    rng = random.SystemRandom()
    loaded: dict[int, Any] = session.info.setdefault("training_questions", {})
    paper: list[dict[str, Any]] = []
    for pool in campaign.pools:
        drawn = {p["q"] for p in paper}
        candidates = [row for row in pool_rows(session, campaign, pool) if row.id not in drawn]
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
        course = course_of_quiz(session, campaign.id)
        if (
            course is None
            or participant.person_id is None
            or enrolment_of(session, participant.person_id, course.id) is None
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
            if running is None:
                raise LookupError(f"quiz attempt {active.id} was read a moment ago")
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
        "ranking_region_id": ranking_region_of(session, participant, campaign.ranking_level),
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
    """Built once per dialect (see `tallies._leaderboard_statements`)."""
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


def score_of(campaign: QuizCampaign, correct: int, total: int) -> int:
    score = campaign.points_for_completing + campaign.points_per_correct * correct
    if total and correct == total:
        score += campaign.points_for_all_correct
    return score


def attempt_passed(campaign: QuizCampaign, correct: int, total: int) -> bool:
    """The campaign's pass mark, a share of the paper's questions (`service.quiz_passed` asks
    the same of a learner's best attempt in SQL)."""
    return correct * 100 >= campaign.pass_percent * total


def submit_attempt(
    session: Session,
    attempt_id: int,
    participant_key: str,
    command: SubmissionIn,
) -> QuizAttempt:
    """Score a paper. The command's `answers` hold, per question in the order shown, the shown
    positions chosen. A resend with the same key returns the first result."""
    submission_key, answers = command.submission_key, command.answers
    # The attempt with its campaign in one read: this is the hot path of a campaign.
    row = session.execute(
        select(QuizAttempt, QuizCampaign)
        .join(QuizCampaign, QuizCampaign.id == QuizAttempt.campaign_id)
        .where(QuizAttempt.id == attempt_id)
    ).first()
    if row is None or not secrets.compare_digest(row[0].participant_key, participant_key):
        raise NotFound()
    attempt, campaign = row
    # The key is also the idempotency record's: checked here too, for a command built in code
    # without validation (`SubmissionIn.model_construct`).
    if not SUBMISSION_KEY.fullmatch(submission_key or ""):
        raise InvalidInput(
            N_("A submission needs a key of 8 to 64 letters, digits, - or _"),
            errors=[{"field": "submission_key", "message": N_("invalid")}],
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
    questions = paper_questions(session, attempt, campaign)
    if len(answers) != len(attempt.paper):
        raise InvalidInput(
            N_("Answer every question (%(count)s), even if only with an empty choice"),
            count=len(attempt.paper),
            errors=[{"field": "answers", "message": N_("one list of choices for each question")}],
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
                errors=[{"field": f"answers[{number}]", "message": N_("not a valid choice")}],
            )
        options = sorted(order[s] for s in shown)
        chosen_options.append(options)
        correct += int(options == sorted(question.correct))
    score = score_of(campaign, correct, len(attempt.paper))
    if session.get_bind().dialect.name == "postgresql":
        recorded = record_submission_postgres(
            session, attempt, chosen_options, submission_key, now, correct, score
        )
    else:
        recorded = record_submission(
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
    passed = attempt_passed(campaign, correct, len(attempt.paper))
    if campaign.audience == QuizAudience.course and attempt.person_id is not None and passed:
        after_quiz_passed(session, campaign.id, attempt.person_id)
    return attempt


def expire_overdue(session: Session, now: datetime | None = None) -> int:
    now = now or utcnow()
    result = session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.status == AttemptStatus.active, QuizAttempt.deadline_at < now - GRACE)
        .values(status=AttemptStatus.expired)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def attempt_by_share_code(session: Session, code: str) -> QuizAttempt:
    attempt = session.scalar(select(QuizAttempt).where(QuizAttempt.share_code == code[:16]))
    if attempt is None or attempt.status != AttemptStatus.submitted:
        raise NotFound()
    return attempt


def campaign_of(session: Session, attempt: QuizAttempt) -> QuizCampaign:
    campaign = session.get(QuizCampaign, attempt.campaign_id)
    if campaign is None:
        raise LookupError(f"quiz campaign {attempt.campaign_id} of attempt {attempt.id}")
    return campaign


def start_course_quiz(session: Session, actor: Principal, course_id: int) -> QuizAttempt:
    """A learner's attempt at a course's final quiz (see `start_attempt`)."""
    course = get_course(session, actor, course_id)
    if course.quiz_campaign_id is None:
        raise NotFound()
    campaign = session.get(QuizCampaign, course.quiz_campaign_id)
    if campaign is None:
        raise LookupError(f"quiz campaign {course.quiz_campaign_id} of course {course.id}")
    return start_attempt(session, campaign, participant_for_person(session, actor))
