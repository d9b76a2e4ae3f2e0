"""Outbox, jobs and webhooks against a real committed database (not the rolled-back session),
because what matters is what happens after commit."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gongchuang.core import events, jobs, organisations, webhooks
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import AuditEntry, Job, OutboxMessage, WebhookDelivery
from gongchuang.core.permissions import SYSTEM
from tests.support.databases import fresh_database
from tests.support.receiver import webhook_receiver
from tests.support.world import build_world

handled: list[int] = []


class Happened(events.Event):
    topic = "test.happened"
    label = "something happened"

    n: int


def _remember(session, event: Happened) -> None:
    handled.append(event.n)


events.subscribe(Happened, _remember)


@jobs.job_handler("test.flaky")
def _flaky(session, job: Job) -> None:
    if job.attempts < 2:
        raise RuntimeError("first attempt fails")
    session.add(
        AuditEntry(
            actor_label="x",
            action="never",
            object_type="t",
            object_id="1",
            prev_hash="0",
            entry_hash="flaky-" + str(job.id),
        )
    )


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "events") as database:
        yield database


def test_events_are_dispatched_after_commit_and_never_after_rollback(db: Database) -> None:
    handled.clear()
    with db.transaction() as session:
        events.publish(session, Happened(n=1))
    with pytest.raises(RuntimeError), db.transaction() as session:
        events.publish(session, Happened(n=2))
        raise RuntimeError("rolled back")
    assert events.dispatch_pending(db) == 1
    assert handled == [1]
    assert events.dispatch_pending(db) == 0  # dispatched once


class Poisoned(events.Event):
    topic = "test.poisoned"
    label = "a subscriber that always fails"

    n: int


def _always_fails(session, event: Poisoned) -> None:
    raise RuntimeError(f"cannot handle {event.n}")


events.subscribe(Poisoned, _always_fails)


def test_a_failing_subscriber_holds_back_no_other_event_and_is_parked(db: Database) -> None:
    """A message whose subscriber raises is rescheduled with backoff and the ones behind it
    go on; after MAX_ATTEMPTS it is parked with its error, for an operator to see."""
    handled.clear()
    with db.transaction() as session:
        events.publish(session, Poisoned(n=7))
        events.publish(session, Happened(n=3))
    assert events.dispatch_pending(db) == 2
    assert handled == [3]
    with db.transaction() as session:
        poisoned = session.scalar(
            select(OutboxMessage).where(OutboxMessage.topic == Poisoned.topic)
        )
        assert poisoned.dispatched_at is None and poisoned.attempts == 1
        assert "cannot handle 7" in poisoned.last_error
        assert poisoned.retry_at > utcnow() + timedelta(seconds=5)
    assert events.dispatch_pending(db) == 0  # not due again yet
    assert events.backlog(db) == (1, 0)
    for _ in range(events.MAX_ATTEMPTS - 1):
        with db.transaction() as session:
            session.get(OutboxMessage, poisoned.id).retry_at = utcnow()
        assert events.dispatch_pending(db) == 1
    with db.transaction() as session:
        parked = session.get(OutboxMessage, poisoned.id)
        assert parked.failed_at is not None and parked.attempts == events.MAX_ATTEMPTS
        assert parked.dispatched_at is None
    assert events.backlog(db) == (0, 1)
    assert events.dispatch_pending(db) == 0


def test_failed_jobs_are_retried_with_backoff(db: Database) -> None:
    with db.transaction() as session:
        job_id = jobs.enqueue(session, "test.flaky").id
    assert jobs.run_one(db)
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job.status == "pending" and job.attempts == 1
        assert "first attempt fails" in job.last_error
        assert job.run_at > utcnow() + timedelta(seconds=5)
        job.run_at = utcnow()
    assert jobs.run_one(db)
    with db.transaction() as session:
        assert session.get(Job, job_id).status == "done"


def test_dedupe_key_schedules_once(db: Database) -> None:
    with db.transaction() as session:
        a = jobs.enqueue(session, "test.flaky", dedupe_key="once")
        b = jobs.enqueue(session, "test.flaky", dedupe_key="once")
        assert a.id == b.id


def test_webhooks_are_signed_retried_and_recorded(db: Database) -> None:
    with webhook_receiver(fail_first=1) as receiver:
        with db.transaction() as session:
            world = build_world(session)
            endpoint = webhooks.create_endpoint(
                session, SYSTEM, world.village_a, url=receiver.url, topics=["credential.issued"]
            )
            secret = endpoint.secret
            from gongchuang.core import credentials

            hospital = organisations.create_organisation(
                session, SYSTEM, name="医院", kind="hospital", region=world.county
            )
            # The village's own event: issued by the village committee as issuer.
            credentials.issue_credential(
                session,
                SYSTEM,
                world.village_a,
                world.villager_a,
                kind="first_aid",
                title="急救证",
                certificate_no="A-1",
                valid_from=utcnow(),
                valid_until=None,
            )
            assert hospital.id
        events.dispatch_pending(db)
        assert jobs.run_one(db)  # first attempt: receiver answers 503
        with db.transaction() as session:
            delivery = session.scalar(select(WebhookDelivery))
            assert delivery.status == "pending" and delivery.attempts == 1
            assert delivery.last_status_code == 503
            retry = session.scalar(
                select(Job).where(Job.status == "pending", Job.kind == "webhook.deliver")
            )
            assert retry.run_at > utcnow()
            retry.run_at = utcnow()
        assert jobs.run_one(db)
        with db.transaction() as session:
            delivery = session.scalar(select(WebhookDelivery))
            assert delivery.status == "delivered" and delivery.attempts == 2
    assert len(receiver.received) == 2
    last = receiver.received[-1]
    assert webhooks.verify_signature(secret, last.body, last.headers["x-gongchuang-signature"])
    assert not webhooks.verify_signature("wrong", last.body, last.headers["x-gongchuang-signature"])
    assert json.loads(last.body)["topic"] == "credential.issued"


def test_stale_or_forged_signatures_are_rejected() -> None:
    body = b'{"a":1}'
    header = webhooks.sign("s3cret", body, timestamp=1_000_000)
    assert webhooks.verify_signature("s3cret", body, header, now=1_000_100)
    assert not webhooks.verify_signature("s3cret", body, header, now=1_000_000 + 3600)
    assert not webhooks.verify_signature("s3cret", body + b" ", header, now=1_000_100)
    assert not webhooks.verify_signature("s3cret", body, "garbage")


def test_periodic_jobs_are_scheduled_once_per_interval(db: Database) -> None:
    jobs.register_periodic("test.every_minute", 60)
    try:
        jobs.schedule_periodic(db)
        jobs.schedule_periodic(db)
        with db.transaction(write=False) as session:
            assert session.query(Job).filter_by(kind="test.every_minute").count() == 1
    finally:
        del jobs.PERIODIC["test.every_minute"]


def test_housekeeping_prunes_old_rows_once_a_day(db: Database) -> None:
    old = utcnow() - timedelta(days=40)
    with db.transaction() as session:
        session.add(OutboxMessage(topic="old", payload={}, created_at=old, dispatched_at=old))
        session.add(OutboxMessage(topic="fresh", payload={}, dispatched_at=None))
        session.add(
            Job(kind="x", payload={}, status="done", finished_at=old, attempts=1, max_attempts=1)
        )
    jobs.schedule_housekeeping(db)
    jobs.schedule_housekeeping(db)  # the second call the same day is a no-op
    with db.transaction(write=False) as session:
        assert session.query(Job).filter_by(kind="core.housekeeping").count() == 1
    # Housekeeping and each module's periodic job, once each.
    assert jobs.run_due(db) == len(jobs.PERIODIC)
    with db.transaction(write=False) as session:
        assert [m.topic for m in session.query(OutboxMessage)] == ["fresh"]
        assert session.query(Job).filter_by(kind="x").count() == 0
