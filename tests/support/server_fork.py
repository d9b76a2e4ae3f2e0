"""A process that has imported the platform's code once and forks a uvicorn server for each
test that asks for one (tests.support.servers.running_server).

Starting `python -m uvicorn gongchuang.asgi:app` costs about 4 s of CPU before the first
request, nearly all of it importing: the framework, then each module's ~300 routes, whose
request and response models FastAPI and pydantic build at import. A test run starts a server for
every browser module, the API fuzz and the cross-process tests, on each database; forking one
from a process that has already imported everything costs milliseconds. What runs in the child
is still the whole server: its own process, environment, event loop, database engine,
background threads and lifespan, built by `gongchuang.asgi` as `uvicorn gongchuang.asgi:app`
builds it. Nothing runs here but imports: no settings are kept (the child reads its own), no
thread is started and no database is opened before a fork.

Protocol, a JSON line each way: {"env": {...}, "port": N, "log": "path"} -> {"pid": N}. The
server ends on SIGTERM (uvicorn's graceful shutdown) or SIGKILL; this process ends when its
standard input closes, which happens when the test process that started it exits.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys


def preload() -> None:
    """Import what a server needs and build the app once (`gongchuang.asgi:app`, ~1.4 s of CPU
    for FastAPI's routes): every server forked from here serves that app. Nothing of it depends
    on the database: the app reads its database from the environment when it starts (its
    lifespan), in the child, after `serve` has put the server's own environment in place."""
    import uvicorn
    import uvicorn.main  # noqa: F401

    import gongchuang.asgi  # noqa: F401
    from gongchuang.modules import DOMAIN_MODULES

    for name in DOMAIN_MODULES:
        importlib.import_module(name)
        for part in ("api", "pages", "jobs", "permissions", "service"):
            try:
                importlib.import_module(f"{name}.{part}")
            except ModuleNotFoundError as missing:
                if missing.name != f"{name}.{part}":
                    raise


def serve(request: dict[str, object]) -> None:
    """In the forked child: become the server the request describes."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server may wait for children of its own
    log = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    from gongchuang.config import get_settings

    get_settings.cache_clear()  # read again, from this server's own environment

    import uvicorn

    uvicorn.run(
        "gongchuang.asgi:app", host="127.0.0.1", port=int(str(request["port"])), log_level="warning"
    )


def main() -> None:
    preload()
    # The servers are this process's children: the kernel reaps them, so that a server that
    # ended is gone at once (the test process watches its pid).
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                serve(request)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
