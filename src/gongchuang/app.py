"""The ASGI application: `create_app()` wires the core and the domain modules."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitMiddleware

from gongchuang.config import get_settings
from gongchuang.core import api as core_api
from gongchuang.core import audit, events, jobs, limits, live, ops, payment_routes
from gongchuang.core import pages as core_pages
from gongchuang.core.db import Database, get_database, set_database
from gongchuang.core.errors import (
    Conflict,
    GongchuangError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    ServiceBusy,
    validation_message,
)
from gongchuang.core.i18n import N_
from gongchuang.core.middleware import ObserveMiddleware, RefusedBodyAnswer, ShellMiddleware
from gongchuang.core.routing import route_by_prefix
from gongchuang.core.web import answer_error, error_response, render, wants_json
from gongchuang.modules import load_modules

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _pg_conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_app(database: Database | None = None, *, background: bool | None = None) -> FastAPI:
    """Build the app. `background` starts the outbox dispatcher, the job worker thread and the
    live updates' reader (LISTEN on PostgreSQL, the log's follower on SQLite); tests that drive
    services directly turn it off."""
    settings = get_settings()
    run_background = settings.run_dispatcher if background is None else background
    if settings.hash_profile != "rfc9106-low-memory":
        log.warning(
            "passwords hashed with the %s profile: never in production", settings.hash_profile
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or get_database()
        set_database(db)
        app.state.database = db
        stoppers: list[Callable[[], None]] = []
        if run_background:
            if db.is_postgres:
                listener = live.PostgresListener(_pg_conninfo(db.url))
                listener.start()
                stoppers.append(listener.stop)
            else:
                # SQLite has no LISTEN: this process follows the live event log, so updates
                # from the job worker, the demo replay or another process reach its pages.
                follower = live.LogFollower(db)
                follower.start()
                stoppers.append(follower.stop)
            dispatcher = events.Dispatcher(db)
            dispatcher.start()
            stoppers.append(dispatcher.stop)
            sealer = audit.Sealer(db)
            sealer.start()
            stoppers.append(sealer.stop)
            worker = jobs.Worker(db)
            worker.start()
            stoppers.append(worker.stop)
        try:
            yield
        finally:
            for stop in reversed(stoppers):
                stop()

    app = FastAPI(
        title="Gongchuang 共创 API",
        version="1.0",
        description="REST API of the Gongchuang community public-good platform. Errors are "
        "RFC 9457 problem+json in the caller's language (Accept-Language: zh-CN or en).",
        lifespan=lifespan,
        docs_url=None,  # served below from vendored assets: no CDN needed in China
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    if database is not None:
        app.state.database = database

    # Added last runs first: observe the whole request, then set its locale and headers, then
    # limit its body (every route's limit unless the route sets its own: see core.limits).
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=limits.JSON_BODY_BYTES)
    app.add_middleware(RefusedBodyAnswer)
    app.add_middleware(ShellMiddleware)
    app.add_middleware(ObserveMiddleware)

    @app.exception_handler(GongchuangError)
    async def domain_error(request: Request, exc: GongchuangError) -> Response:
        return await answer_error(request, exc)

    @app.exception_handler(IntegrityError)
    async def constraint_error(request: Request, exc: IntegrityError) -> Response:
        # Services check uniqueness first; this answers the race where two requests pass
        # the check together and the database's constraint stops the second.
        log.warning("constraint violated: %s", exc.orig)
        return await answer_error(request, Conflict())

    @app.exception_handler(PoolTimeout)
    async def database_busy(request: Request, exc: PoolTimeout) -> Response:
        # Every database connection of this worker stayed busy for the pool's whole timeout (a
        # flash sale's queue): nothing was done, and the client may try again, so say so
        # rather than fail with a 500.
        log.warning("no database connection free: %s", exc)
        response = await answer_error(request, ServiceBusy())
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        # The database refused a value its column cannot hold (a NUL character in text on
        # PostgreSQL, a number out of range): bad input, and the transaction rolled back.
        log.warning("database refused a value: %s", exc.orig)
        return await answer_error(
            request, InvalidInput(N_("The input contains a value that cannot be stored"))
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # A page's form is answered in the person's words; the API keeps pydantic's.
        plain = not wants_json(request)
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
                "message": validation_message(e) if plain else e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        return await answer_error(
            request, InvalidInput(N_("Some of the input is not valid"), errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Raised by the framework, in English: answered in the reader's language instead.
        error: GongchuangError
        if exc.status_code == 404:
            error = NotFound()
        elif exc.status_code == 405:
            error = MethodNotAllowed()
        elif exc.status_code == 413:
            # A chunked body that passed the route's limit (see core.limits).
            error = limits.too_large(request.scope.get(MAX_BODY_SIZE_SCOPE_KEY))
        else:
            error = GongchuangError()
            error.status_code = exc.status_code
        response = error_response(request, error)
        if exc.headers:
            response.headers.update(exc.headers)  # e.g. Allow, for a 405
        return response

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        # Vendored assets (no CDN in China) and our own initialiser: no inline script, so the
        # page keeps the site's Content-Security-Policy.
        return render(
            request,
            "api_docs.html",
            {"title": app.title, "openapi_url": app.openapi_url},
        )

    app.include_router(ops.router)
    app.include_router(core_api.router)
    app.include_router(payment_routes.router)
    load_modules(app)
    app.include_router(core_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    route_by_prefix(app)  # each module's routers are asked only for their own paths
    return app
