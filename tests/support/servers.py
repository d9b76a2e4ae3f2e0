"""Real server and worker processes for tests that cross process boundaries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


@contextmanager
def running_server(database_url: str, log_path: Path, workers: int = 1) -> Iterator[str]:
    """uvicorn directly for one worker; `gongchuang serve --workers N` for several, so the
    CLI's own multi-worker set-up is what runs."""
    port = free_port()
    if workers == 1:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "gongchuang.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
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
            command, cwd=ROOT, env=process_env(database_url), stdout=log, stderr=subprocess.STDOUT
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
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


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
