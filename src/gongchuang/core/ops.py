"""Operations: JSON logs, health and readiness probes, Prometheus metrics."""

from __future__ import annotations

import logging
import os
import sys
from functools import lru_cache

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import text

from gongchuang.core import events
from gongchuang.core.web import get_database

router = APIRouter(include_in_schema=False)
log = logging.getLogger("gongchuang.access")

REQUESTS = Counter("gongchuang_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "gongchuang_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@lru_cache
def expected_schema_revision() -> str | None:
    from alembic.script import ScriptDirectory

    from gongchuang.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and its schema is the one this code expects."""
    try:
        with get_database(request).engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # any database failure means not ready
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    expected = expected_schema_revision()
    if revision != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "ok",
                "schema": revision,
                "expected_schema": expected,
                "hint": "run `gongchuang db upgrade`",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "schema": revision})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """With several workers (`gongchuang serve --workers N` sets PROMETHEUS_MULTIPROC_DIR),
    every worker's figures are summed, whichever worker answers the scrape. The outbox's
    backlog is read from the database at each scrape (the same for every worker)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    waiting, parked = events.backlog(get_database(request))
    body += (
        "# HELP gongchuang_outbox_waiting Events not yet dispatched to their subscribers.\n"
        "# TYPE gongchuang_outbox_waiting gauge\n"
        f"gongchuang_outbox_waiting {waiting}\n"
        "# HELP gongchuang_outbox_parked Events parked after their subscriber kept failing.\n"
        "# TYPE gongchuang_outbox_parked gauge\n"
        f"gongchuang_outbox_parked {parked}\n"
    ).encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
