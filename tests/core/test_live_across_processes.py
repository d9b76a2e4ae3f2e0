"""Live updates reach open pages only once committed, from whichever process of the
installation made them, on SQLite as on PostgreSQL; a reconnecting stream is sent what it
missed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gongchuang.app import _pg_conninfo
from gongchuang.core import auth, live
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import LiveEvent
from tests.support.databases import fresh_database, fresh_database_url
from tests.support.servers import ROOT, process_env, running_server, signed_in_client
from tests.support.world import build_world

# Every 250 ms on SQLite; the issue asks for an open page to be told within 2 s.
WITHIN_S = 2.0


class Watcher:
    """Subscribes to a channel on an event loop of its own thread, as the SSE endpoint does,
    and notes when each message arrived."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.received: queue.Queue[tuple[float, live.LiveMessage]] = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._queue = asyncio.run_coroutine_threadsafe(self._subscribe(), self.loop).result(5)

    async def _subscribe(self) -> asyncio.Queue[live.LiveMessage]:
        subscribed = live.broker.subscribe(self.channel)
        self._drain = asyncio.ensure_future(self._forward(subscribed))
        return subscribed

    async def _forward(self, subscribed: asyncio.Queue[live.LiveMessage]) -> None:
        while True:
            message = await subscribed.get()
            self.received.put((time.monotonic(), message))

    def next(self, timeout: float = WITHIN_S) -> tuple[float, live.LiveMessage]:
        return self.received.get(timeout=timeout)

    def nothing_for(self, seconds: float) -> bool:
        try:
            self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    async def _stop_draining(self) -> None:
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain

    def close(self) -> None:
        live.broker.unsubscribe(self.channel, self._queue)
        asyncio.run_coroutine_threadsafe(self._stop_draining(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@contextmanager
def server_reader(database: Database) -> Iterator[None]:
    """What a server process's lifespan starts for its pages (see `create_app`)."""
    if database.is_postgres:
        listener = live.PostgresListener(_pg_conninfo(database.url))
        listener.start()
        try:
            yield
        finally:
            listener.stop()
    else:
        follower = live.LogFollower(database)
        follower.start()
        try:
            yield
        finally:
            follower.stop()


@contextmanager
def database_at(url: str) -> Iterator[Database]:
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


@contextmanager
def watching(database: Database, channel: str) -> Iterator[Watcher]:
    watcher = Watcher(channel)
    try:
        with server_reader(database):
            yield watcher
    finally:
        watcher.close()


# Another process of the same installation (as `gongchuang worker` or `gongchuang demo
# --replay-incident` are): each argument after the URL is one update, in a transaction of its own.
ANNOUNCE = """
import json, sys
from gongchuang.core import live
from gongchuang.core.db import Database
database = Database(sys.argv[1])
for channel, event, data in map(json.loads, sys.argv[2:]):
    with database.transaction() as session:
        live.announce(session, channel, event, data)
database.dispose()
"""


def announce_from_another_process(url: str, *updates: tuple[str, str, dict[str, int]]) -> float:
    """Returns when the other process had committed (it has exited)."""
    subprocess.run(
        [sys.executable, "-c", ANNOUNCE, url, *(json.dumps(u) for u in updates)],
        cwd=ROOT,
        env=process_env(url),
        check=True,
        timeout=60,
    )
    return time.monotonic()


def test_an_update_is_delivered_once_committed_and_never_from_a_savepoint(
    tmp_path: Path,
) -> None:
    """The cause of the alert that phones missed one time in ten: the first alert wave is sent
    in a savepoint, and its release delivered the alert before the request had committed, so the
    phone's fetch read no alert. Nothing may be delivered before the real commit, and a
    rolled-back savepoint drops its own updates only."""
    with fresh_database(tmp_path, "savepoint") as database, watching(database, "t:1") as watcher:
        with database.transaction() as session:
            live.announce(session, "t:1", "changed", {"step": 1})
            with session.begin_nested():
                live.announce(session, "t:1", "changed", {"step": 2})
            with pytest.raises(RuntimeError), session.begin_nested():
                live.announce(session, "t:1", "changed", {"step": "rolled back"})
                raise RuntimeError
            # Several polls of the follower while the transaction is still open.
            assert watcher.nothing_for(1.0), "delivered before the transaction committed"
        committed = time.monotonic()
        steps = []
        for _ in range(2):
            arrived, message = watcher.next()
            assert arrived - committed < WITHIN_S
            steps.append(json.loads(message.data)["step"])
        assert steps == [1, 2]
        assert watcher.nothing_for(0.6)


def test_a_rolled_back_transaction_tells_nobody(tmp_path: Path) -> None:
    with fresh_database(tmp_path, "rollback") as database, watching(database, "t:2") as watcher:
        with pytest.raises(RuntimeError), database.transaction() as session:
            live.announce(session, "t:2", "changed", {})
            raise RuntimeError
        assert watcher.nothing_for(1.0)


def test_an_update_from_another_process_reaches_this_one_within_2_s(tmp_path: Path) -> None:
    with (
        fresh_database_url(tmp_path, "other") as url,
        database_at(url) as database,
        watching(database, "incident:7") as watcher,
    ):
        committed = announce_from_another_process(url, ("incident:7", "changed", {"n": 1}))
        arrived, message = watcher.next(timeout=WITHIN_S + 1)
        assert (message.event, json.loads(message.data)) == ("changed", {"n": 1})
        assert arrived - committed < WITHIN_S


def _events(lines: Iterator[str]) -> Iterator[tuple[int, str, dict[str, int]]]:
    """(id, event, data) of each event of an SSE stream."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "event" in fields:
                yield int(fields["id"]), fields["event"], json.loads(fields["data"])
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.strip()


@pytest.mark.slow
def test_a_stream_hears_other_processes_once_and_is_replayed_what_it_missed(
    tmp_path: Path,
) -> None:
    with fresh_database_url(tmp_path, "stream") as url:
        with database_at(url) as database, database.transaction() as session:
            world = build_world(session)
            phone, channel = world.outsider.phone, f"person:{world.outsider.id}"
        with running_server(url, tmp_path / "server.log") as base:
            browser = signed_in_client(base, phone)
            stream_url = "/api/v1/me/notifications/stream"
            with browser.stream("GET", stream_url, timeout=WITHIN_S + 3) as stream:
                lines = stream.iter_lines()
                assert next(lines).startswith("retry:")
                committed = announce_from_another_process(url, (channel, "changed", {"n": 1}))
                seen, event, data = next(_events(lines))
                assert time.monotonic() - committed < WITHIN_S
                assert (event, data) == ("changed", {"n": 1})

                # An update made by the server process itself arrives once, not also from the
                # log: the next event is the other process's next one.
                csrf = auth.csrf_token_for(browser.cookies[auth.CSRF_COOKIE])
                marked = browser.post("/notifications/read", data={"csrf_token": csrf})
                assert marked.status_code == 303
                events = _events(lines)
                assert next(events)[1] == "read"
                announce_from_another_process(url, (channel, "changed", {"n": 2}))
                assert next(events)[1:] == ("changed", {"n": 2})

            # While the phone is away (a lift, a tunnel), two more updates are made.
            announce_from_another_process(
                url, (channel, "changed", {"n": 3}), (channel, "changed", {"n": 4})
            )
            headers = {"Last-Event-ID": str(seen)}
            with browser.stream("GET", stream_url, headers=headers, timeout=5) as stream:
                events = _events(stream.iter_lines())
                replayed = [next(events) for _ in range(4)]
                assert [e[1:] for e in replayed] == [
                    ("read", {"id": None}),
                    ("changed", {"n": 2}),
                    ("changed", {"n": 3}),
                    ("changed", {"n": 4}),
                ]
                assert [e[0] for e in replayed] == sorted(e[0] for e in replayed)
                assert replayed[0][0] > seen
                announce_from_another_process(url, (channel, "changed", {"n": 5}))
                assert next(events)[1:] == ("changed", {"n": 5})


def test_updates_are_pruned_after_a_while(session: Session) -> None:
    live.announce(session, "t:3", "changed", {"n": 1})
    live.announce(session, "t:3", "changed", {"n": 2})
    session.flush()
    oldest = session.scalar(select(func.min(LiveEvent.id)).where(LiveEvent.channel == "t:3"))
    session.execute(
        update(LiveEvent)
        .where(LiveEvent.id == oldest)
        .values(created_at=utcnow() - live.RETENTION - timedelta(seconds=1))
    )
    live.prune(session)
    kept = session.scalars(select(LiveEvent.data).where(LiveEvent.channel == "t:3")).all()
    assert kept == [json.dumps({"n": 2})]


@pytest.mark.postgres
def test_updates_made_while_the_listen_connection_was_lost_still_arrive(
    tmp_path: Path,
) -> None:
    with fresh_database(tmp_path, "relisten") as database, watching(database, "t:4") as watcher:
        name = database.engine.url.database
        with psycopg.connect(_pg_conninfo(database.url), autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND query LIKE 'LISTEN%%'",
                (name,),
            ).fetchall()
        assert dropped == [(True,)]
        # Committed before the listener notices and listens again.
        with database.transaction() as session:
            live.announce(session, "t:4", "changed", {"n": 1})
        _, message = watcher.next(timeout=10)
        assert json.loads(message.data) == {"n": 1}
        assert watcher.nothing_for(2.5), "delivered twice"
