"""The training service's commands as the tests write them: the same models the API and the
pages read their input into, built from the short forms the tests use."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.training import quiz
from gongchuang.training.models import QuizAttempt
from gongchuang.training.schemas import AssessmentIn, ScoreIn, SubmissionIn, TargetIn, TargetsIn


def scores(marks: dict[int, int]) -> AssessmentIn:
    """The assessment of {trainee id: score} (none at all is allowed here, to see what a
    caller without the right is told)."""
    return AssessmentIn.model_construct(
        scores=[ScoreIn(trainee_id=trainee, score=score) for trainee, score in marks.items()]
    )


def plan(*rows: tuple[str, int, str, int]) -> TargetsIn:
    """Yearly targets, each (province code, year, offline|online, cumulative plan)."""
    return TargetsIn(
        targets=[
            TargetIn(region_code=code, year=year, mode=mode, cumulative_planned=planned)
            for code, year, mode, planned in rows
        ]
    )


def submit(
    session: Session,
    attempt_id: int,
    participant_key: str,
    submission_key: str,
    answers: list[list[int]],
) -> QuizAttempt:
    """A paper's answers as a participant sends them; not validated on the way in, so that
    the tests see what the service itself refuses."""
    command = SubmissionIn.model_construct(submission_key=submission_key, answers=answers)
    return quiz.submit_attempt(session, attempt_id, participant_key, command)
