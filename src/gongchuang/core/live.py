"""Live updates for Server-Sent Events, across every worker process.

Services call `announce()` inside their transaction. On PostgreSQL that is `pg_notify`, which
PostgreSQL delivers only when the transaction commits, to every worker's LISTEN connection. On
embedded SQLite there is one process, so messages are queued on the session and handed to the
in-process broker after commit; a rollback drops them either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import defaultdict
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
PG_CHANNEL = "gongchuang_live"
_PENDING_KEY = "gongchuang_live_pending"


class LocalBroker:
    """Fans messages out to the SSE subscribers connected to this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]]]
        self._subscribers = defaultdict(set)
        self._lock = threading.Lock()

    def subscribe(self, channel: str) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subscribers[channel].add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, channel: str, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subscribers[channel] = {
                s for s in self._subscribers[channel] if s[1] is not queue
            }
            if not self._subscribers[channel]:
                del self._subscribers[channel]

    def subscriber_count(self, channel: str) -> int:
        with self._lock:
            return len(self._subscribers.get(channel, ()))

    def deliver(self, message: str) -> None:
        """Called from any thread with a JSON message {"channel", "event", "data"}."""
        channel = json.loads(message)["channel"]
        with self._lock:
            targets = list(self._subscribers.get(channel, ()))
        for loop, queue in targets:
            loop.call_soon_threadsafe(_put_nowait, queue, message)


def _put_nowait(queue: asyncio.Queue[str], message: str) -> None:
    try:
        queue.put_nowait(message)
    except asyncio.QueueFull:
        log.warning("live subscriber queue full; dropping a message")


broker = LocalBroker()


def announce(session: Session, channel: str, event_name: str, data: dict[str, Any]) -> None:
    message = json.dumps(
        {"channel": channel, "event": event_name, "data": data}, ensure_ascii=False, default=str
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :m)"), {"c": PG_CHANNEL, "m": message})
    else:
        session.info.setdefault(_PENDING_KEY, []).append(message)


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    for message in session.info.pop(_PENDING_KEY, []):
        broker.deliver(message)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


class PostgresListener:
    """A thread holding one LISTEN connection that feeds the local broker."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
        self.ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self.ready.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {PG_CHANNEL}")
                    self.ready.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            broker.deliver(note.payload)
            except Exception:
                log.exception("LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)
