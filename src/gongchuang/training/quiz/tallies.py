"""A submission closes its attempt and is added to the running totals the leaderboards read
(participant standings, score buckets, region tallies), in one round trip on PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, text, update
from sqlalchemy.orm import Session

from gongchuang.core.db import upsert
from gongchuang.training.models import (
    REGION_TALLY_SHARDS,
    AttemptStatus,
    QuizAttempt,
    QuizRegionTally,
    QuizScoreBucket,
    QuizStanding,
)


def record_submission(
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


# The same as `record_submission`, in one round trip on PostgreSQL (data-modifying CTEs):
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


def record_submission_postgres(
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
