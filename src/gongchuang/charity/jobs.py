"""Scheduled work: closing donations nobody paid, and raising each month's donation of the
monthly gifts due today. The manifest (module.py) says when they run."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.core.models import Job


def close_unpaid(session: Session, job: Job) -> None:
    service.close_unpaid(session)


def raise_recurring(session: Session, job: Job) -> None:
    service.raise_due(session)
