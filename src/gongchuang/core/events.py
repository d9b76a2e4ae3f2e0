"""Domain events through a transactional outbox.

An event is a typed payload: a subclass of `Event` naming its topic, defined where both the
publisher and its subscribers may import it (`gongchuang.topics.<publisher>`, or
`gongchuang.core.topics` for the core's own), so that a field renamed on one side is a type
error on the other, not a KeyError in a worker.

`publish()` writes an outbox row in the caller's transaction. The dispatcher claims rows after
commit (on PostgreSQL with FOR UPDATE SKIP LOCKED so several workers share the work), runs the
subscribers in that same transaction and marks the row dispatched: an event is handled once, and
never for a transaction that rolled back.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from gongchuang.core import jobs
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import OutboxMessage

log = logging.getLogger(__name__)

Subscriber = Callable[[Session, OutboxMessage], None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
_wildcard: list[Subscriber] = []
_wakeup = threading.Event()


class Event(BaseModel):
    """A domain event's payload. Subclasses set `topic` (the outbox and webhook name) and
    `label` (a message id saying what happened, listed to integrators)."""

    # Rows written by an older release may carry a field this one dropped: read, not refused.
    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: ClassVar[str]
    label: ClassVar[str]


E = TypeVar("E", bound=Event)


# Topics integrators may subscribe webhooks to: name -> label (a message id). Filled from the
# `publishes` of each loaded module's manifest, and by the core for its own events.
TOPICS: dict[str, str] = {}


def register_topic(event_type: type[Event]) -> None:
    TOPICS[event_type.topic] = event_type.label


def subscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    """Run `handler` with the parsed event, in the dispatcher's transaction, for every event of
    the type. Idempotent: a module loaded twice (tests build many apps) subscribes once."""

    def receive(session: Session, message: OutboxMessage) -> None:
        handler(session, event_type.model_validate(message.payload))

    receive.handles = handler  # type: ignore[attr-defined]
    found = _subscribers[event_type.topic]
    if all(getattr(existing, "handles", None) is not handler for existing in found):
        found.append(receive)


def subscribe_all(handler: Subscriber) -> Subscriber:
    """Register a handler of every message, untyped (the webhook fan-out forwards payloads)."""
    if handler not in _wildcard:
        _wildcard.append(handler)
    return handler


def publish(session: Session, event: Event) -> OutboxMessage:
    message = OutboxMessage(topic=event.topic, payload=event.model_dump(mode="json"))
    session.add(message)
    session.flush()
    session.info["gongchuang_outbox_pending"] = True
    return message


# A message whose subscriber keeps failing is retried with the jobs' backoff (10 s ... an hour),
# then parked with its error after this many attempts: it no longer blocks the outbox, and
# `gongchuang_outbox_parked` on /metrics tells an operator.
MAX_ATTEMPTS = 8


def _due(now: datetime) -> Any:
    return (
        OutboxMessage.dispatched_at.is_(None)
        & OutboxMessage.failed_at.is_(None)
        & or_(OutboxMessage.retry_at.is_(None), OutboxMessage.retry_at <= now)
    )


def dispatch_pending(db: Database, limit: int = 100) -> int:
    """Dispatch up to `limit` messages, each in its own transaction. Returns how many were
    tried (handled, or failed and rescheduled)."""
    with db.transaction(write=False) as session:
        if session.scalar(select(OutboxMessage.id).where(_due(utcnow())).limit(1)) is None:
            return 0  # the common case, without taking SQLite's write lock
    done = 0
    while done < limit:
        taken: int | None = None
        try:
            with db.transaction() as session:
                query = (
                    select(OutboxMessage).where(_due(utcnow())).order_by(OutboxMessage.id).limit(1)
                )
                if db.is_postgres:
                    query = query.with_for_update(skip_locked=True)
                message = session.scalar(query)
                if message is None:
                    return done
                taken = message.id
                for handler in [*_subscribers.get(message.topic, []), *_wildcard]:
                    handler(session, message)
                message.dispatched_at = utcnow()
        except Exception:
            if taken is None:
                raise  # the database itself: the dispatcher's loop retries
            log.exception("outbox message %s failed in a subscriber", taken)
            _note_failure(db, taken, traceback.format_exc(limit=5))
        done += 1
    return done


def backlog(db: Database) -> tuple[int, int]:
    """(messages waiting to be dispatched, messages parked after failing)."""
    parked = OutboxMessage.failed_at.is_not(None)
    query = select(
        func.count().filter(OutboxMessage.dispatched_at.is_(None), ~parked),
        func.count().filter(parked),
    )
    with db.transaction(write=False) as session:
        waiting, failed = session.execute(query).one()
    return int(waiting or 0), int(failed or 0)


def _note_failure(db: Database, message_id: int, error: str) -> None:
    with db.transaction() as session:
        message = session.get(OutboxMessage, message_id, with_for_update=db.is_postgres)
        if message is None or message.dispatched_at is not None:
            return
        message.attempts += 1
        message.last_error = error[-4000:]
        if message.attempts >= MAX_ATTEMPTS:
            message.failed_at = utcnow()
            log.error("outbox message %s (%s) parked", message.id, message.topic)
        else:
            message.retry_at = utcnow() + jobs.retry_delay(message.attempts)


class Dispatcher:
    """Background thread of a web worker: dispatches after each commit and polls every second
    (so messages committed by other processes, or left by a crash, are not forgotten)."""

    def __init__(self, db: Database, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        _wakeup.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            _wakeup.wait(self.poll_seconds)
            _wakeup.clear()
            try:
                dispatch_pending(self.db)
            except Exception:
                log.exception("outbox dispatch failed; will retry")


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop("gongchuang_outbox_pending", False):
        _wakeup.set()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("gongchuang_outbox_pending", None)
