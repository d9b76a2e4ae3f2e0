"""Scheduled work (settling closed notices, the start of each scoring period) and what the
module does on other modules' events. The manifest (module.py) says when each runs."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from gongchuang.core.models import Job
from gongchuang.points import service
from gongchuang.topics.volunteer import HoursVerified

log = logging.getLogger(__name__)


def settle(session: Session, job: Job) -> None:
    report = service.settle_due(session)
    if report.records:
        log.info(
            "settled %s records (%s points) of %s notices",
            report.records,
            report.points,
            report.notices,
        )


def roll_periods(session: Session, job: Job) -> None:
    service.roll_periods(session)


def volunteer_hours(session: Session, event: HoursVerified) -> None:
    """Through the volunteer module's published event only: that module need not be
    installed for this one to run."""
    service.record_volunteer_hours(session, event)
