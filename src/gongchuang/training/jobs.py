"""Scheduled work: closing quiz attempts whose time ran out. The manifest (module.py) says
when it runs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core.models import Job
from gongchuang.training import quiz


def expire_attempts(session: Session, job: Job) -> None:
    quiz.expire_overdue(session)
