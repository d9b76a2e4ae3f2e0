"""Races with real threads against a committed database (PostgreSQL in the postgres run)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core import audit, jobs
from gongchuang.core.db import Database
from gongchuang.core.models import AuditEntry, Job
from gongchuang.core.permissions import SYSTEM
from tests.support.databases import fresh_database

ran: list[int] = []
ran_lock = threading.Lock()


@jobs.job_handler("test.count_once")
def _count_once(session, job: Job) -> None:
    with ran_lock:
        ran.append(job.id)
    audit.record(session, SYSTEM, "test.count_once", "job", job.id)


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "race") as database:
        yield database


def _race(workers: int, target) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def run() -> None:
        barrier.wait()
        try:
            target()
        except BaseException as exc:  # collected and reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_concurrent_audit_appends_keep_one_unbroken_chain(db: Database) -> None:
    def append_many() -> None:
        for n in range(25):
            with db.transaction() as session:
                audit.record(session, SYSTEM, "test.race", "thing", n)

    # Appends do not wait for one another; sealers racing each other chain each entry once.
    assert _race(8, append_many) == []
    assert _race(4, lambda: audit.seal_all(db)) == []
    with db.transaction(write=False) as session:
        report = audit.verify_chain(session)
        assert report.ok, report
        assert report.checked == 200
        hashes = session.scalars(select(AuditEntry.prev_hash)).all()
        assert len(hashes) == len(set(hashes))  # no fork: every link has one successor


def test_competing_workers_run_each_job_exactly_once(db: Database) -> None:
    ran.clear()
    with db.transaction() as session:
        for _ in range(60):
            jobs.enqueue(session, "test.count_once")

    def drain() -> None:
        jobs.run_due(db)

    assert _race(4, drain) == []
    assert sorted(ran) == sorted(set(ran)) and len(ran) == 60
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Job.id)).where(Job.status != "done")) == 0
        assert session.scalar(select(func.count(AuditEntry.id))) == 60


def test_simultaneous_registrations_of_one_phone_make_one_person(tmp_path: Path) -> None:
    import httpx

    from tests.support.databases import fresh_database_url
    from tests.support.servers import running_server

    with (
        fresh_database_url(tmp_path, "signup") as url,
        running_server(url, tmp_path / "server.log") as base,
    ):
        statuses: list[int] = []

        def sign_up() -> None:
            response = httpx.post(
                f"{base}/api/v1/people",
                timeout=30,
                json={
                    "name": "抢注",
                    "phone": "13912345678",
                    "password": "long enough",
                    "accept_privacy_policy": True,
                },
            )
            statuses.append(response.status_code)

        assert _race(6, sign_up) == []
        assert sorted(statuses) == [201] + [409] * 5


def test_wrong_passwords_sent_at_once_are_checked_one_at_a_time(db: Database) -> None:
    """Twenty guesses at the same moment are checked one after another: five are checked and
    counted, the other fifteen are told to wait, as they would have been one by one."""
    from gongchuang.core import auth, throttle
    from gongchuang.core.models import SignInThrottle
    from tests.support.world import make_person

    with db.transaction() as session:
        phone = make_person(session, "13600001111", "被猜的人").phone

    waited: list[int] = []

    def guess() -> None:
        with db.transaction() as session:
            outcome = auth.login(session, phone, "wrong", source="192.0.2.1")
            assert outcome.error is not None
            if outcome.retry_after_s:
                waited.append(outcome.retry_after_s)

    assert _race(20, guess) == []
    assert len(waited) == 15
    attempt = throttle.Attempt(phone, "192.0.2.1")
    with db.transaction(write=False) as session:
        failures = dict(session.execute(select(SignInThrottle.key, SignInThrottle.failures)).all())
        assert [failures[key] for _, key in attempt.counts()] == [5, 5, 5]
        assert timedelta(0) < throttle.wait_left(session, attempt) <= timedelta(minutes=1)
