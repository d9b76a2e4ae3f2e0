"""Domain events through a transactional outbox.

`publish()` writes an outbox row in the caller's transaction. The dispatcher claims rows after
commit (on PostgreSQL with FOR UPDATE SKIP LOCKED so several workers share the work), runs the
subscribers in that same transaction and marks the row dispatched: an event is handled once, and
never for a transaction that rolled back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import OutboxMessage

log = logging.getLogger(__name__)

Subscriber = Callable[[Session, OutboxMessage], None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
_wildcard: list[Subscriber] = []
_wakeup = threading.Event()


# Topics integrators may subscribe webhooks to: name -> label (a message id).
TOPICS: dict[str, str] = {}


def register_topic(name: str, label: str) -> None:
    TOPICS[name] = label


def subscribe(topic: str) -> Callable[[Subscriber], Subscriber]:
    """Register a handler for a topic ("*" for every topic)."""

    def register(fn: Subscriber) -> Subscriber:
        (_wildcard if topic == "*" else _subscribers[topic]).append(fn)
        return fn

    return register


def publish(session: Session, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    message = OutboxMessage(topic=topic, payload=payload)
    session.add(message)
    session.flush()
    session.info["gongchuang_outbox_pending"] = True
    return message


def wake_dispatcher() -> None:
    _wakeup.set()


def dispatch_pending(db: Database, limit: int = 100) -> int:
    """Dispatch up to `limit` messages, each in its own transaction. Returns how many."""
    with db.transaction(write=False) as session:
        pending = select(OutboxMessage.id).where(OutboxMessage.dispatched_at.is_(None)).limit(1)
        if session.scalar(pending) is None:
            return 0  # the common case, without taking SQLite's write lock
    done = 0
    while done < limit:
        with db.transaction() as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.dispatched_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(1)
            )
            if db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            message = session.scalar(query)
            if message is None:
                return done
            for handler in [*_subscribers.get(message.topic, []), *_wildcard]:
                handler(session, message)
            message.dispatched_at = utcnow()
        done += 1
    return done


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
