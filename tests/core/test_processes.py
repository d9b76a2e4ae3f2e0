"""Behaviour across processes: live events reach a browser connected to another worker, and a
job whose worker is killed mid-run still takes effect exactly once."""

from __future__ import annotations

import queue
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from gongchuang.core import jobs
from gongchuang.core.db import Database
from gongchuang.core.models import AuditEntry, Job
from tests.support.databases import BACKEND, fresh_database_url
from tests.support.servers import running_server, signed_in_client, start_worker
from tests.support.world import PASSWORD, build_world

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


def _listen(client: httpx.Client, events: queue.Queue[str], ready: threading.Event) -> None:
    with client.stream("GET", "/api/v1/me/notifications/stream", timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            if line.startswith("event:"):
                events.put(line.split(":", 1)[1].strip())
                return


def test_live_event_reaches_a_browser_on_another_worker(tmp_path: Path) -> None:
    with fresh_database_url(tmp_path, "live") as url:
        database = Database(url)
        with database.transaction() as session:
            world = build_world(session)
            outsider_phone, cadre_phone = world.outsider.phone, world.cadre_a.phone
            village_id = world.village_a.id
        database.dispose()
        with running_server(url, tmp_path / "a.log") as server_a:
            # Several workers need PostgreSQL; on SQLite both roles are one process.
            second = running_server(url, tmp_path / "b.log") if BACKEND == "postgresql" else None
            server_b = second.__enter__() if second else server_a
            try:
                outsider = signed_in_client(server_a, outsider_phone)
                events: queue.Queue[str] = queue.Queue()
                ready = threading.Event()
                threading.Thread(
                    target=_listen, args=(outsider, events, ready), daemon=True
                ).start()
                assert ready.wait(10), "stream did not open"
                token = httpx.post(
                    f"{server_b}/api/v1/auth/tokens",
                    json={
                        "phone": cadre_phone,
                        "password": PASSWORD,
                        "name": "t",
                        "scopes": ["read", "org.manage_members"],
                    },
                ).json()["token"]
                added = httpx.post(
                    f"{server_b}/api/v1/organisations/{village_id}/members",
                    json={"phone": outsider_phone, "roles": ["member"]},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert added.status_code == 201, added.text
                assert events.get(timeout=10) == "notification"
            finally:
                if second:
                    second.__exit__(None, None, None)


def test_killed_worker_job_runs_exactly_once(tmp_path: Path) -> None:
    import tests.support.slow_job  # noqa: F401 - registers the job kind here too

    with fresh_database_url(tmp_path, "jobs") as url:
        database = Database(url)
        with database.transaction() as session:
            job_id = jobs.enqueue(session, "test.slow_append", {"seconds": 3}).id
        first = start_worker(url, tmp_path / "w1.log", "tests.support.slow_job")
        try:
            deadline = time.monotonic() + 20
            while True:
                with database.transaction(write=False) as session:
                    if session.get(Job, job_id).status == "running":
                        break
                assert time.monotonic() < deadline, (tmp_path / "w1.log").read_text()
                time.sleep(0.1)
            time.sleep(1.0)  # inside the handler's sleep, after its effect was flushed
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        with database.transaction(write=False) as session:
            assert session.get(Job, job_id).status == "running"
            assert (
                session.scalar(
                    select(func.count(AuditEntry.id)).where(AuditEntry.action == "test.slow_append")
                )
                == 0
            )
        second = start_worker(url, tmp_path / "w2.log", "tests.support.slow_job")
        try:
            deadline = time.monotonic() + 30
            while True:
                with database.transaction(write=False) as session:
                    if session.get(Job, job_id).status == "done":
                        break
                assert time.monotonic() < deadline, (tmp_path / "w2.log").read_text()
                time.sleep(0.2)
        finally:
            second.terminate()
            second.wait(timeout=10)
        with database.transaction(write=False) as session:
            effects = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "test.slow_append")
            ).all()
            assert len(effects) == 1
            assert effects[0].after == {"attempt": 2}
        database.dispose()


@pytest.mark.postgres
def test_metrics_add_up_across_workers(tmp_path: Path) -> None:
    with (
        fresh_database_url(tmp_path, "metrics") as url,
        running_server(url, tmp_path / "serve.log", workers=2) as base,
    ):
        for _ in range(40):  # a new connection each time: spread over both workers
            httpx.get(f"{base}/regions", timeout=5)
        text = httpx.get(f"{base}/metrics", timeout=5).text
        line = next(
            ln
            for ln in text.splitlines()
            if ln.startswith("gongchuang_http_requests_total{") and 'route="/regions"' in ln
        )
        assert float(line.rsplit(" ", 1)[1]) == 40
