"""Requests per second and p50/p99 latency of the web shell and the JSON API.

50 concurrent clients against a server with 2 worker processes, on SQLite and on PostgreSQL,
each with the demo world loaded. The baseline, measured in the same run against the same
server, is /healthz (no database, no template): the ratio shows what the real pages cost.

Routing, first: in this process, the time to find the route of a request to the first module
(points) and to the last (training), as the app routes (each module's routers asked only for
their own prefix, core/routing.py) and as FastAPI alone would (every router asked in turn).
Over HTTP, a path under the first and under the last module's API prefix that no route serves
(a 404 problem answer: routing and the error page, no query) should cost the same.

    python bench/http_core.py [--seconds 10] [--clients 50] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from gongchuang.core.db import Database  # noqa: E402
from gongchuang.demo import load_demo_world  # noqa: E402
from gongchuang.migrate import upgrade  # noqa: E402

PG_ADMIN = os.environ.get("GONGCHUANG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TARGETS = [
    ("baseline /healthz", "/healthz", 200),
    ("home page /", "/", 200),
    ("JSON /api/v1/regions?limit=50", "/api/v1/regions?limit=50", 200),
    ("first module /api/v1/points/x", "/api/v1/points/nowhere", 404),
    ("last module /api/v1/training/x", "/api/v1/training/nowhere", 404),
]
ROUTED = [
    ("baseline /healthz", "/healthz"),
    ("first module API", "/api/v1/points/villages/1/records"),
    ("first module page", "/points/villages/1"),
    ("last module API", "/api/v1/training/courses"),
    ("last module page", "/training/courses/1"),
]


def routing_costs(repeat: int = 2000) -> list[tuple[str, str, float, float, int, int]]:
    """(label, path, µs as routed, µs unguarded, routers asked, routers asked unguarded)."""
    from starlette.routing import Match

    from gongchuang.app import create_app
    from gongchuang.core.routing import entry_guard, segments

    app = create_app(background=False)

    def route(path: str, guarded: bool) -> int:
        path_segments = segments(path)
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "app": app}
        scope.update(headers=[], query_string=b"")
        asked = 0
        for entry in app.router.routes:
            guard = entry_guard(entry)
            matches = entry.matches if guarded or guard is None else guard.inner
            if guard is None or not guarded or guard.may_match(path_segments):
                asked += 1
            if matches(scope)[0] == Match.FULL:
                return asked
        raise LookupError(path)

    rows = []
    for label, path in ROUTED:
        costs = []
        for guarded in (True, False):
            route(path, guarded)
            started = time.perf_counter()
            for _ in range(repeat):
                route(path, guarded)
            costs.append((time.perf_counter() - started) / repeat * 1e6)
        rows.append((label, path, costs[0], costs[1], route(path, True), route(path, False)))
    return rows


async def hammer(base: str, path: str, clients: int, seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(path)
                if response.status_code != 200:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return errors, latencies


def wrk(base: str, path: str, clients: int, seconds: float) -> tuple[float, float, float, int]:
    """wrk (C, one thread per core) loads the server far harder than a Python client can."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--latency", base + path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def millis(token: str) -> float:
        units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
        for unit in ("us", "ms", "s"):
            if token.endswith(unit):
                return float(token[: -len(unit)]) * units[unit]
        return float(token)

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = millis(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = millis(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, p99, int(bad.group(1)) if bad else 0


def measure(base: str, path: str, clients: int, seconds: float) -> tuple[float, float, float, int]:
    if shutil.which("wrk"):
        return wrk(base, path, clients, seconds)
    errors, lat = asyncio.run(hammer(base, path, clients, seconds))
    q = statistics.quantiles(lat, n=100)
    return len(lat) / seconds, q[49] * 1000, q[98] * 1000, errors


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GONGCHUANG_DATABASE_URL": url,
        "GONGCHUANG_LOG_JSON": "false",
        "GONGCHUANG_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gongchuang.asgi:app",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(log.read_text()[-2000:])


def prepare(backend: str, tmp: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", None
    name = f"gc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+psycopg://"
    ) + f"/{name}", name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    routed = routing_costs()
    print("Routing one GET in this process (µs; routers asked of the app's entries):")
    print(f"{'target':<20}{'path':<36}{'by prefix':>10}{'FastAPI':>9}{'asked':>7}{'of':>5}")
    for label, path, by_prefix, plain, asked, asked_plain in routed:
        print(f"{label:<20}{path:<36}{by_prefix:>10.1f}{plain:>9.1f}{asked:>7}{asked_plain:>5}")
    rows = []
    for backend in [args.only] if args.only else ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            url, pg_name = prepare(backend, tmp)
            try:
                upgrade(url)
                database = Database(url)
                with database.transaction() as session:
                    load_demo_world(session)
                database.dispose()
                port = 18000 + os.getpid() % 1000
                server = start_server(url, port, tmp / "server.log")
                try:
                    base = f"http://127.0.0.1:{port}"
                    asyncio.run(hammer(base, "/", 10, 1.0))  # warm up both workers
                    baseline_rps = None
                    for label, path, status in TARGETS:
                        rps, p50, p99, errors = measure(base, path, args.clients, args.seconds)
                        errors = errors if status == 200 else 0  # wrk counts each 404
                        baseline_rps = baseline_rps or rps
                        rows.append((backend, label, rps, p50, p99, rps / baseline_rps, errors))
                finally:
                    server.terminate()
                    server.wait(timeout=10)
            finally:
                if pg_name:
                    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    print(
        f"\n{args.clients} concurrent clients, {args.seconds:.0f} s per target, "
        f"server: uvicorn, 2 workers, {os.cpu_count()} CPU cores shared with the load generator "
        f"({'wrk' if shutil.which('wrk') else 'httpx, slower than the server: install wrk'})"
    )
    print(
        f"{'database':<11}{'target':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'× baseline':>12}{'errors':>8}"
    )
    for backend, label, rps, p50, p99, ratio, errors in rows:
        print(f"{backend:<11}{label:<32}{rps:>9.0f}{p50:>9.1f}{p99:>9.1f}{ratio:>12.2f}{errors:>8}")


if __name__ == "__main__":
    main()
