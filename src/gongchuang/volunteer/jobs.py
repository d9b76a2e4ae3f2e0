"""Scheduled work: closing finished shifts (forgotten check-outs, no-shows), pruning used codes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.models import Job
from gongchuang.volunteer import service
from gongchuang.volunteer.models import UsedCheckinCode


def close_shifts(session: Session, job: Job) -> None:
    service.close_finished_shifts(session)
    # A code lives 40 seconds; a day later nobody can replay it anyway.
    session.execute(
        delete(UsedCheckinCode).where(UsedCheckinCode.used_at < utcnow() - timedelta(days=1))
    )
