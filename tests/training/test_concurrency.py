"""Quiz starts and submissions raced by real threads against a committed database (PostgreSQL
in the PostgreSQL run): one active attempt per participant, one scored submission per attempt,
and leaderboards equal to the attempts; one enrolment per learner and course, one progress row
per lesson and one completion (one certificate) per enrolment."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.db import Database, utcnow
from gongchuang.core.errors import Conflict
from gongchuang.core.models import AuditEntry, Credential, OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.training import quiz, service
from gongchuang.training.models import (
    Enrolment,
    LessonProgress,
    QuizAttempt,
    QuizRegionTally,
    QuizStanding,
)
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database
from tests.support.world import build_world, make_person
from tests.training.conftest import TrainingWorld, acting, add_questions, answers_for, tw


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "quiz_race") as database:
        yield database


def setup_campaign(db: Database, players: int) -> tuple[int, list[str]]:
    with db.transaction() as session:
        world = build_world(session)
        school = organisations.create_organisation(
            session, SYSTEM, name="学校", kind=OrganisationKind.school, region=world.county
        )
        bank = quiz.create_bank(session, SYSTEM, school, "题库")
        add_questions(session, bank.id)
        campaign = quiz.create_campaign(
            session,
            SYSTEM,
            school,
            quiz.CampaignInput(
                slug="race",
                title="答题",
                pools=[{"bank_id": bank.id, "tag": "", "count": 3}],
                daily_attempt_limit=50,
                starts_at=utcnow() - timedelta(hours=1),
            ),
        )
        quiz.set_campaign_status(session, SYSTEM, campaign.id, "open")
        keys = []
        for n in range(players):
            person = make_person(session, f"1350000{n:04d}", f"选手{n}")
            person.home_region_id = world.village_a_region.id
            keys.append(quiz.participant_for_person(session, acting(person)).key)
        return campaign.id, keys


def _participant(session, key: str) -> quiz.Participant:  # type: ignore[no-untyped-def]
    person = session.get(Person, int(key[2:]))
    return quiz.Participant(key, person.id, person.name, person.home_region_id)


def test_one_active_attempt_and_one_scored_submission(db: Database) -> None:
    campaign_id, keys = setup_campaign(db, 1)
    key = keys[0]

    def start() -> None:
        with db.transaction() as session:
            campaign = session.get(quiz.QuizCampaign, campaign_id)
            quiz.start_attempt(session, campaign, _participant(session, key))

    succeeded, errors = race([start for _ in range(8)])
    assert succeeded == 8, errors[:2]
    with db.transaction(write=False) as session:
        attempts = session.scalars(select(QuizAttempt)).all()
        assert len(attempts) == 1
        attempt_id = attempts[0].id
        answers = answers_for(session, attempts[0])

    def submit() -> None:
        with db.transaction() as session:
            quiz.submit_attempt(session, attempt_id, key, secrets.token_urlsafe(12), answers)

    succeeded, errors = race([submit for _ in range(8)])
    assert succeeded == 1
    assert len(errors) == 7 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        standing = session.scalar(select(QuizStanding))
        assert (standing.attempts, standing.total_score) == (1, 3)


def test_leaderboards_stay_exact_under_concurrent_submissions(db: Database) -> None:
    campaign_id, keys = setup_campaign(db, 16)

    def play(key: str):  # type: ignore[no-untyped-def]
        def run() -> None:
            for round_ in range(3):
                with db.transaction() as session:
                    campaign = session.get(quiz.QuizCampaign, campaign_id)
                    attempt = quiz.start_attempt(session, campaign, _participant(session, key))
                    answers = answers_for(session, attempt, right=round_ != 1)
                with db.transaction() as session:
                    quiz.submit_attempt(session, attempt.id, key, f"race-{attempt.id:08d}", answers)

        return run

    succeeded, errors = race([play(k) for k in keys])
    assert succeeded == 16, errors[:2]
    with db.transaction(write=False) as session:
        per_person = dict(
            session.execute(
                select(QuizAttempt.participant_key, func.sum(QuizAttempt.score))
                .where(QuizAttempt.status == "submitted")
                .group_by(QuizAttempt.participant_key)
            ).all()
        )
        standings = dict(
            session.execute(select(QuizStanding.participant_key, QuizStanding.total_score)).all()
        )
        assert standings == {k: int(v) for k, v in per_person.items()}
        total, attempts, participants = session.execute(
            select(
                func.sum(QuizRegionTally.total_score),
                func.sum(QuizRegionTally.attempts),
                func.sum(QuizRegionTally.participants),
            )
        ).one()
        assert (total, attempts, participants) == (sum(per_person.values()), 48, 16)
        assert quiz.campaign_totals(session, campaign_id) == (16, 48)
        ranks = sorted(quiz.standing_of(session, campaign_id, k).rank for k in keys)
        assert ranks == list(range(1, 17))


# --- one learner racing themselves -----------------------------------------------------------


def _training_world(db: Database, prepare) -> tuple[dict[str, int], object]:  # type: ignore[no-untyped-def]
    """The training test world (`tw`), committed, with what `prepare(session, tw)` adds."""
    with db.transaction() as session:
        built: TrainingWorld = tw.__wrapped__(session, build_world(session))
        prepared = prepare(session, built)
        return {"learner": built.learner.id, "course": built.course.id}, prepared


def _lessons_done(session, built: TrainingWorld, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    learner = acting(built.learner)
    service.enrol(session, learner, built.course.id)
    lessons = [lesson.id for lesson in service.lessons_of(session, built.course.id)]
    service.record_progress(
        session, learner, [service.ProgressItem(i, 0, True, utcnow()) for i in lessons[:count]]
    )
    return lessons


def _pass_course_quiz(session, built: TrainingWorld) -> None:  # type: ignore[no-untyped-def]
    participant = quiz.participant_for_person(session, acting(built.learner))
    attempt = quiz.start_attempt(session, built.course_quiz, participant)
    quiz.submit_attempt(
        session, attempt.id, participant.key, "key-passed", answers_for(session, attempt)
    )


def _as_learner(db: Database, ids: dict[str, int], work):  # type: ignore[no-untyped-def]
    def attempt() -> None:
        with db.transaction() as session:
            work(session, acting(session.get(Person, ids["learner"])))

    return attempt


def test_enrolments_sent_at_once_make_one(db: Database) -> None:
    ids, _ = _training_world(db, lambda session, built: None)
    enrol = _as_learner(db, ids, lambda session, who: service.enrol(session, who, ids["course"]))
    succeeded, errors = race([enrol for _ in range(6)])
    assert (succeeded, errors) == (6, [])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Enrolment.id))) == 1


def test_the_last_lesson_sent_from_two_phones_at_once_completes_the_course_once(
    db: Database,
) -> None:
    def all_but_the_last_lesson(session, built: TrainingWorld) -> int:  # type: ignore[no-untyped-def]
        lessons = _lessons_done(session, built, 1)
        _pass_course_quiz(session, built)
        return lessons[-1]

    ids, last = _training_world(db, all_but_the_last_lesson)
    sync = _as_learner(
        db,
        ids,
        lambda session, who: service.record_progress(
            session, who, [service.ProgressItem(last, 30, True, utcnow())]
        ),
    )
    succeeded, errors = race([sync for _ in range(4)])
    assert (succeeded, errors) == (4, [])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(LessonProgress.id))) == 2
        assert session.scalar(select(func.count(Credential.id))) == 1
        enrolment = session.scalar(select(Enrolment))
        assert enrolment.completed_at is not None and enrolment.certificate_code


def test_completing_a_course_twice_at_once_issues_one_certificate(db: Database) -> None:
    def lessons_done_and_quiz_dropped(session, built: TrainingWorld) -> None:  # type: ignore[no-untyped-def]
        _lessons_done(session, built, 2)
        # The publisher drops the final quiz: the learner has met every requirement left, and
        # completes the course by hand (a double tap sends it twice).
        built.course.quiz_campaign_id = None
        session.flush()

    ids, _ = _training_world(db, lessons_done_and_quiz_dropped)
    complete = _as_learner(
        db, ids, lambda session, who: service.complete_course(session, who, ids["course"])
    )
    with db.transaction(write=False) as session:
        assert session.scalar(select(Enrolment.completed_at)) is None
    succeeded, errors = race([complete for _ in range(4)])
    assert (succeeded, errors) == (4, [])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Credential.id))) == 1
        completions = session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "training.course.complete")
        )
        assert completions == 1
