"""Papers: questions drawn at random from a campaign's pools (kept per process for a few
seconds), shown in a per-attempt order, never with their answers before submission."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.training.models import AttemptStatus, Question, QuizAttempt, QuizCampaign


def pool_filter(bank_id: int, tag: str) -> list[Any]:
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


def pool_rows(session: Session, campaign: QuizCampaign, pool: dict[str, Any]) -> list[Any]:
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
            select(*PAPER_COLUMNS).where(*pool_filter(pool["bank_id"], pool["tag"]))
        ).all()
    )
    if len(_pools) > 1000:
        _pools.clear()
    _pools[key] = (now, rows)
    return rows


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


def paper_questions(
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
    questions = paper_questions(session, attempt)
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
