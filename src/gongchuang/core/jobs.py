"""Durable scheduled jobs.

A job is a row with a due time. A worker leases one (FOR UPDATE SKIP LOCKED on PostgreSQL) in a
short transaction, then runs its handler and marks it done in a second transaction. The handler's
database effects and the "done" mark commit together, so a worker killed mid-run leaves nothing
behind: when the lease expires another worker runs the job again, and it takes effect once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import files, throttle
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import Job, JobStatus, OutboxMessage, WebSession

log = logging.getLogger(__name__)

Handler = Callable[[Session, Job], None]


@dataclass(frozen=True)
class JobKind:
    handler: Handler
    lease_seconds: int


_registry: dict[str, JobKind] = {}


def register_handler(kind: str, handler: Handler, lease_seconds: int = 60) -> None:
    _registry[kind] = JobKind(handler, lease_seconds)


def job_handler(kind: str, lease_seconds: int = 60) -> Callable[[Handler], Handler]:
    """The core's own jobs (a module declares its jobs in its manifest)."""

    def register(fn: Handler) -> Handler:
        register_handler(kind, fn, lease_seconds)
        return fn

    return register


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> Job:
    """Schedule a job in the caller's transaction. A dedupe key makes scheduling idempotent."""
    if dedupe_key is not None:
        existing = session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=payload or {},
        run_at=run_at or utcnow(),
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
        status=JobStatus.pending,
    )
    session.add(job)
    session.flush()
    return job


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff: 10 s, 20 s, 40 s ... capped at one hour."""
    return timedelta(seconds=min(3600, 10 * 2 ** max(0, attempt - 1)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _due_condition(now: datetime) -> Any:
    return or_(
        (Job.status == JobStatus.pending) & (Job.run_at <= now),
        (Job.status == JobStatus.running) & (Job.lease_until < now),
    )


def _claim(db: Database, worker: str) -> tuple[int, str] | None:
    # A read first: an idle worker polling every second must not take SQLite's write lock.
    with db.transaction(write=False) as session:
        if session.scalar(select(Job.id).where(_due_condition(utcnow())).limit(1)) is None:
            return None
    with db.transaction() as session:
        now = utcnow()
        query = select(Job).where(_due_condition(now)).order_by(Job.run_at, Job.id).limit(1)
        if db.is_postgres:
            query = query.with_for_update(skip_locked=True)
        job = session.scalar(query)
        if job is None:
            return None
        kind = _registry.get(job.kind)
        lease = kind.lease_seconds if kind else 60
        job.status = JobStatus.running
        job.attempts += 1
        job.locked_by = worker
        job.lease_until = now + timedelta(seconds=lease)
        return job.id, job.kind


def run_one(db: Database, worker: str | None = None) -> bool:
    """Claim and run one due job. Returns False when nothing was due."""
    worker = worker or worker_name()
    claimed = _claim(db, worker)
    if claimed is None:
        return False
    job_id, kind_name = claimed
    kind = _registry.get(kind_name)
    try:
        with db.transaction() as session:
            job = session.get(Job, job_id, with_for_update=db.is_postgres)
            if job is None or job.status != JobStatus.running or job.locked_by != worker:
                return True  # another worker took it over after our lease ran out
            if kind is None:
                raise LookupError(f"no handler registered for job kind {kind_name!r}")
            kind.handler(session, job)
            job.status = JobStatus.done
            job.finished_at = utcnow()
            job.lease_until = None
    except Exception:
        log.exception("job %s (%s) failed", job_id, kind_name)
        error = traceback.format_exc(limit=5)
        with db.transaction() as session:
            job = session.get(Job, job_id)
            if job is not None and job.status == JobStatus.running:
                job.last_error = error
                job.lease_until = None
                if job.attempts >= job.max_attempts:
                    job.status = JobStatus.failed
                    job.finished_at = utcnow()
                else:
                    job.status = JobStatus.pending
                    job.run_at = utcnow() + retry_delay(job.attempts)
    return True


def run_due(db: Database, limit: int = 1000) -> int:
    count = 0
    while count < limit and run_one(db):
        count += 1
    return count


# Retention: long enough to investigate an incident, short enough that tables stay small.
DISPATCHED_OUTBOX_DAYS = 7
FINISHED_JOB_DAYS = 30


# Jobs that run on a clock: kind -> interval in seconds. Modules add theirs when activated.
PERIODIC: dict[str, int] = {"core.housekeeping": 86_400}


def register_periodic(kind: str, every_seconds: int) -> None:
    PERIODIC[kind] = every_seconds


def schedule_periodic(db: Database) -> None:
    """Once per interval, whichever worker gets there first (the dedupe key makes it once)."""
    now = utcnow().timestamp()
    for kind, every in PERIODIC.items():
        key = f"{kind}:{int(now // every)}"
        try:
            with db.transaction() as session:
                enqueue(session, kind, dedupe_key=key, max_attempts=3)
        except IntegrityError:
            pass  # another worker scheduled it at the same moment


def schedule_housekeeping(db: Database) -> None:
    schedule_periodic(db)


@job_handler("core.housekeeping", lease_seconds=600)
def _housekeeping(session: Session, job: Job) -> None:
    now = utcnow()
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.dispatched_at < now - timedelta(days=DISPATCHED_OUTBOX_DAYS)
        )
    )
    session.execute(
        delete(Job).where(
            Job.status.in_([JobStatus.done, JobStatus.failed]),
            Job.finished_at < now - timedelta(days=FINISHED_JOB_DAYS),
            Job.id != job.id,
        )
    )
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    throttle.forget_old(session)
    files.sweep_orphans(session)


class Worker:
    """Runs due jobs until stopped; as a thread of a web worker or as `gongchuang worker`."""

    def __init__(self, db: Database, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def run_forever(self) -> None:
        name = worker_name()
        next_schedule = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_schedule:
                    schedule_periodic(self.db)
                    next_schedule = time.monotonic() + 60
                if not run_one(self.db, name):
                    self._stop.wait(self.poll_seconds)
            except IntegrityError:
                log.exception("job bookkeeping conflict; retrying")
            except Exception:
                log.exception("job worker error")
                self._stop.wait(self.poll_seconds)
