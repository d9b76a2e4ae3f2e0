"""Scheduled work: settling closed notices, and the start of each scoring period."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from gongchuang.core import events, jobs
from gongchuang.core.models import Job, OutboxMessage
from gongchuang.points import service

log = logging.getLogger(__name__)

jobs.register_periodic("points.settle", 15 * 60)
jobs.register_periodic("points.roll_periods", 3600)


@jobs.job_handler("points.settle", lease_seconds=600)
def settle(session: Session, job: Job) -> None:
    report = service.settle_due(session)
    if report.records:
        log.info(
            "settled %s records (%s points) of %s notices",
            report.records,
            report.points,
            report.notices,
        )


@jobs.job_handler("points.roll_periods", lease_seconds=600)
def roll_periods(session: Session, job: Job) -> None:
    service.roll_periods(session)


@events.subscribe("volunteer.hours_verified")
def volunteer_hours(session: Session, message: OutboxMessage) -> None:
    """Listens by topic name only: the volunteer module need not be installed, nor known."""
    service.record_volunteer_hours(session, message.payload)
