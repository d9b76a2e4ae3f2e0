"""Durable work: alert waves, AED maintenance reminders, deleting locations no longer needed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core import jobs
from gongchuang.core.models import Job
from gongchuang.emergency import service

jobs.register_periodic("emergency.prune_locations", 10 * 60)
jobs.register_periodic("emergency.aed_reminders", 6 * 60 * 60)


@jobs.job_handler("emergency.alert_wave", lease_seconds=30)
def alert_wave(session: Session, job: Job) -> None:
    service.next_wave(session, int(job.payload["incident_id"]), int(job.payload["wave"]))


@jobs.job_handler("emergency.prune_locations", lease_seconds=300)
def prune_locations(session: Session, job: Job) -> None:
    service.prune_locations(session)


@jobs.job_handler("emergency.aed_reminders", lease_seconds=600)
def aed_reminders(session: Session, job: Job) -> None:
    service.send_maintenance_reminders(session)
