"""Scheduled work: closing finished shifts (forgotten check-outs, no-shows), pruning used codes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gongchuang.core import jobs
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Job
from gongchuang.volunteer import service
from gongchuang.volunteer.models import UsedCheckinCode

jobs.register_periodic("volunteer.close_shifts", 10 * 60)


@jobs.job_handler("volunteer.close_shifts", lease_seconds=600)
def close_shifts(session: Session, job: Job) -> None:
    service.close_finished_shifts(session)
    # A code lives 40 seconds; a day later nobody can replay it anyway.
    session.execute(
        delete(UsedCheckinCode).where(UsedCheckinCode.used_at < utcnow() - timedelta(days=1))
    )
