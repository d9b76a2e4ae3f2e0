"""Durable work: alert waves, AED maintenance reminders, deleting locations no longer needed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core.models import Job
from gongchuang.emergency import service


def alert_wave(session: Session, job: Job) -> None:
    service.next_wave(session, int(job.payload["incident_id"]), int(job.payload["wave"]))


def prune_locations(session: Session, job: Job) -> None:
    service.prune_locations(session)


def aed_reminders(session: Session, job: Job) -> None:
    service.send_maintenance_reminders(session)
