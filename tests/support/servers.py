"""Real server and worker processes for tests that cross process boundaries."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GONGCHUANG_DATABASE_URL": database_url,
            "GONGCHUANG_LOG_JSON": "false",
            "PYTHONPATH": str(ROOT),
            **extra,
        }
    )
    return env


class _Forked:
    """A server forked by the test process's fork server: what `running_server` needs of a
    Popen (its parent, the fork server, reaps it, so it is gone as soon as it has ended)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return 0
        return None

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.02)
        return 0


_fork_server: subprocess.Popen[str] | None = None
_fork_lock = threading.Lock()


def _fork(database_url: str, port: int, log_path: Path) -> _Forked:
    """A uvicorn server on `port` for `database_url`, forked from the fork server of this test
    process (tests/support/server_fork.py), which is started on first use."""
    global _fork_server
    with _fork_lock:
        if _fork_server is None or _fork_server.poll() is not None:
            _fork_server = subprocess.Popen(
                [sys.executable, "-m", "tests.support.server_fork"],
                cwd=ROOT,
                env=process_env(""),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            atexit.register(_fork_server.stdin.close)  # type: ignore[union-attr]
        request = {"env": process_env(database_url), "port": port, "log": str(log_path)}
        assert _fork_server.stdin is not None and _fork_server.stdout is not None
        _fork_server.stdin.write(json.dumps(request) + "\n")
        _fork_server.stdin.flush()
        answer = _fork_server.stdout.readline()
        if not answer:
            raise RuntimeError("the fork server ended: see the test process's output")
        return _Forked(int(json.loads(answer)["pid"]))


@contextmanager
def running_server(database_url: str, log_path: Path, workers: int = 1) -> Iterator[str]:
    """One worker: a uvicorn server forked from a process that has imported the code already
    (see tests/support/server_fork.py). Several: `gongchuang serve --workers N`, so the CLI's
    own multi-worker set-up is what runs."""
    port = free_port()
    process: subprocess.Popen[bytes] | _Forked
    if workers == 1:
        log_path.touch()
        process = _fork(database_url, port, log_path)
    else:
        command = [
            sys.executable,
            "-m",
            "gongchuang.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=process_env(database_url),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def signed_in_client(base: str, phone: str, password: str | None = None) -> httpx.Client:
    """An HTTP client of the server at `base`, signed in through the login form as a browser is
    (by default with the world's password, tests.support.world)."""
    from gongchuang.core import auth
    from tests.support.world import PASSWORD

    client = httpx.Client(base_url=base, timeout=10)
    client.get("/login")
    token = auth.csrf_token_for(client.cookies[auth.CSRF_COOKIE])
    response = client.post(
        "/login", data={"phone": phone, "password": password or PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    assert auth.SESSION_COOKIE in client.cookies
    return client


def start_worker(database_url: str, log_path: Path, *plugins: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "gongchuang.cli", "worker"]
    for plugin in plugins:
        args += ["--plugin", plugin]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=process_env(database_url),
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
    )
