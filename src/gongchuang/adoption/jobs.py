"""Scheduled work: releasing reservations nobody paid (a buyer needing the units releases them
too; this keeps the figures true on a quiet day) and confirming harvests shipped 14 days ago.
The manifest (module.py) says when they run."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.adoption import service
from gongchuang.core.models import Job


def release_expired(session: Session, job: Job) -> None:
    service.release_expired(session)


def confirm_overdue(session: Session, job: Job) -> None:
    service.confirm_overdue(session)
