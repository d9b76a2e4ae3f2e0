"""Quiz starts and submissions raced by real threads against a committed database (PostgreSQL
in the PostgreSQL run): one active attempt per participant, one scored submission per attempt,
and leaderboards equal to the attempts."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.db import Database, utcnow
from gongchuang.core.errors import Conflict
from gongchuang.core.models import OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.training import quiz
from gongchuang.training.models import QuizAttempt, QuizRegionTally, QuizStanding
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database
from tests.support.world import build_world, make_person
from tests.training.conftest import acting, add_questions, answers_for


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
