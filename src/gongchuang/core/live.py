"""Live updates for Server-Sent Events, from every process of an installation to every open page.

`announce()` appends the update to the `live_event` log in the caller's transaction: a rollback,
or a rolled-back savepoint, drops it, and nothing is delivered before the change is committed.
Each server process hears of committed updates in one way per database:

- SQLite (the README's set-up): one `LogFollower` thread per server process reads the rows
  committed since the last one it saw, every 250 ms (a primary-key range read). Updates made by
  `gongchuang worker`, `gongchuang demo --replay-incident` or another server process reach open
  pages as surely as the server's own. SQLite has one writer at a time, so ids are taken in
  commit order and `id > last` passes over none.
- PostgreSQL: the same statement sends `pg_notify`, which PostgreSQL delivers at commit to each
  process's LISTEN connection. (A sequence is not taken in commit order: a follower reading
  `id > last` could pass over a transaction that commits late.) After a lost LISTEN connection
  the listener catches up from the log.

The log gives each update an id, sent as the SSE `id:`; a browser whose stream reconnects sends
it back as Last-Event-ID and is first sent what it missed (`replay`). Rows older than RETENTION
are pruned by a periodic job.

Why not deliver from the Session's after_commit hook, as before: SQLAlchemy fires after_commit
when a SAVEPOINT is released too, and after_rollback when one is rolled back. The first alert
wave of an incident is sent in a savepoint (`emergency.service.begin_alerting`), so on SQLite a
phone was told of its alert while the request had still to commit; it fetched its alert list at
once, read the last committed state (no alert yet) and showed the alert only at its 30 s poll:
the one-in-ten "missed" alert of the emergency browser test. A rolled-back savepoint also
dropped every update its enclosing transaction had announced before it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import String, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from gongchuang.core import jobs
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import Job, LiveEvent

log = logging.getLogger(__name__)
PG_CHANNEL = "gongchuang_live"
# How long updates stay in the log: the longest gap a reconnecting stream is replayed over.
RETENTION = timedelta(minutes=10)
POLL_SECONDS = 0.25
BATCH = 500
# On PostgreSQL, after a lost LISTEN connection: updates logged this long before the loss are
# looked at again, for a transaction that announced them then and committed during the gap.
CATCH_UP_SLACK = timedelta(seconds=30)

T = TypeVar("T")


class LiveMessage(NamedTuple):
    id: int  # in the log; the SSE event id
    channel: str
    event: str
    data: str  # JSON


class LocalBroker:
    """Fans messages out to the SSE subscribers connected to this process."""

    def __init__(self) -> None:
        self._subscribers: dict[
            str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[LiveMessage]]]
        ]
        self._subscribers = defaultdict(set)
        self._lock = threading.Lock()

    def subscribe(self, channel: str) -> asyncio.Queue[LiveMessage]:
        queue: asyncio.Queue[LiveMessage] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subscribers[channel].add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, channel: str, queue: asyncio.Queue[LiveMessage]) -> None:
        with self._lock:
            self._subscribers[channel] = {
                s for s in self._subscribers[channel] if s[1] is not queue
            }
            if not self._subscribers[channel]:
                del self._subscribers[channel]

    def deliver(self, message: LiveMessage) -> None:
        """Called from any thread, once per committed update."""
        with self._lock:
            targets = list(self._subscribers.get(message.channel, ()))
        for loop, queue in targets:
            loop.call_soon_threadsafe(_put_nowait, queue, message)


def _put_nowait(queue: asyncio.Queue[LiveMessage], message: LiveMessage) -> None:
    try:
        queue.put_nowait(message)
    except asyncio.QueueFull:
        log.warning("live subscriber queue full; dropping a message")


broker = LocalBroker()


def announce(session: Session, channel: str, event_name: str, data: dict[str, Any]) -> None:
    """Tell the pages watching `channel`, once this transaction commits."""
    payload = json.dumps(data, ensure_ascii=False, default=str)
    logged = insert(LiveEvent).values(
        channel=channel, event=event_name, data=payload, created_at=utcnow()
    )
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: log it and notify with its id (delivered at commit, dropped on
        # rollback, like the row).
        message = json.dumps({"channel": channel, "event": event_name, "data": payload})
        row = logged.returning(LiveEvent.id).cte("logged")
        session.execute(
            select(
                func.pg_notify(PG_CHANNEL, cast(row.c.id, String) + literal(" ") + message)
            ).select_from(row)
        )
    else:
        session.execute(logged)


def _pg_message(payload: str) -> LiveMessage:
    event_id, _, rest = payload.partition(" ")
    decoded = json.loads(rest)
    return LiveMessage(int(event_id), decoded["channel"], decoded["event"], decoded["data"])


_COLUMNS = (LiveEvent.id, LiveEvent.channel, LiveEvent.event, LiveEvent.data)


def _reading(database: Database, read: Callable[[Session], T]) -> T:
    """A read-only unit of work (on SQLite a plain BEGIN: no write lock taken)."""
    with database.transaction(write=False) as session:
        return read(session)


def replay(database: Database, channel: str, after: int) -> list[LiveMessage]:
    """The updates of `channel` logged after id `after` and still kept, oldest first."""
    return _reading(
        database,
        lambda session: [
            LiveMessage(*row)
            for row in session.execute(
                select(*_COLUMNS)
                .where(LiveEvent.channel == channel, LiveEvent.id > after)
                .order_by(LiveEvent.id)
                .limit(BATCH)
            )
        ],
    )


def last_id(database: Database) -> int:
    return _reading(database, lambda s: int(s.scalar(select(func.max(LiveEvent.id))) or 0))


jobs.register_periodic("core.prune_live_events", 5 * 60)


@jobs.job_handler("core.prune_live_events")
def prune(session: Session, job: Job | None = None) -> None:
    session.execute(delete(LiveEvent).where(LiveEvent.created_at < utcnow() - RETENTION))


class LogFollower:
    """One thread per server process on SQLite: hands every update committed to the log, by
    whichever process, to this process's broker. One reader however many pages are open."""

    def __init__(self, database: Database, poll_seconds: float = POLL_SECONDS) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-follow", daemon=True)

    def start(self) -> None:
        # Before serving: a page that opens its stream from now on misses nothing.
        self.last = last_id(self.database)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:
                log.exception("reading the live event log failed; trying again")

    def poll(self) -> int:
        """Deliver what was committed since the last poll; returns how many."""
        delivered = 0
        while True:
            rows = _reading(self.database, self._rows_after_last)
            for message in rows:
                broker.deliver(message)
                self.last = message.id
            delivered += len(rows)
            if len(rows) < BATCH:
                return delivered

    def _rows_after_last(self, session: Session) -> list[LiveMessage]:
        query = select(*_COLUMNS).where(LiveEvent.id > self.last).order_by(LiveEvent.id)
        return [LiveMessage(*row) for row in session.execute(query.limit(BATCH))]


class PostgresListener:
    """A thread holding one LISTEN connection that feeds the local broker."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
        self.ready = threading.Event()
        # Ids delivered lately: a catch-up after a reconnection overlaps what NOTIFY brought.
        self._recent: deque[int] = deque(maxlen=10_000)
        self._recent_ids: set[int] = set()

    def start(self) -> None:
        self._thread.start()
        self.ready.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _deliver(self, messages: Iterable[LiveMessage]) -> None:
        for message in messages:
            if message.id in self._recent_ids:
                continue
            if len(self._recent) == self._recent.maxlen:
                self._recent_ids.discard(self._recent[0])
            self._recent.append(message.id)
            self._recent_ids.add(message.id)
            broker.deliver(message)

    def _run(self) -> None:
        import psycopg

        lost_at: datetime | None = None
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {PG_CHANNEL}")
                    if lost_at is not None:
                        # Listening again: what was committed while nobody listened.
                        missed = conn.execute(
                            "SELECT id, channel, event, data FROM live_event"
                            " WHERE created_at >= %s ORDER BY id",
                            (lost_at - CATCH_UP_SLACK,),
                        )
                        self._deliver(LiveMessage(*row) for row in missed)
                        lost_at = None
                    self.ready.set()
                    while not self._stop.is_set():
                        self._deliver(
                            _pg_message(note.payload) for note in conn.notifies(timeout=1.0)
                        )
            except Exception:
                log.exception("LISTEN connection lost; reconnecting")
                lost_at = lost_at or utcnow()
                self._stop.wait(1.0)
