"""Routing by prefix (core.routing): a module's routers are asked only for their own paths,
and which route answers a request is exactly what FastAPI alone would choose."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from gongchuang.app import create_app
from gongchuang.core.routing import PrefixGuard, entry_guard
from gongchuang.modules import DOMAIN_MODULES
from tests.support.databases import BACKEND


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(background=False)


def _scope(app: FastAPI, path: str, method: str = "GET") -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
        "app": app,
    }


def _sample_paths(app: FastAPI) -> list[str]:
    """Every route's path with its parameters filled in, with and without a trailing slash,
    one segment deeper, and a few paths no route has."""
    paths = {"/", "/nowhere", "/api", "/api/v1", "/api/v1/nowhere", "/static/css/site.css"}
    for entry in app.router.routes:
        contexts = getattr(entry, "effective_route_contexts", None)
        routes = (
            [c.starlette_route or c.original_route for c in contexts()] if contexts else [entry]
        )
        for route in routes:
            path = re.sub(r"\{[^}]+\}", "1", getattr(route, "path", "/") or "/")
            paths |= {path, path.rstrip("/") + "/", path.rstrip("/") + "/x", path + "x"}
    return sorted(paths)


def test_every_domain_router_is_guarded_by_its_own_prefix(app: FastAPI) -> None:
    guards = [entry_guard(entry) for entry in app.router.routes]
    guarded = [g for g in guards if g is not None]
    # the ops router, the core API and pages, and each domain's API and pages
    assert len(guarded) >= 3 + 2 * len(DOMAIN_MODULES)


@pytest.mark.slow  # every route's path, near misses and methods, through every guard
@pytest.mark.skipif(
    BACKEND == "postgresql",
    reason="routing never reaches the database: checked once, on the SQLite half",
)
def test_a_guard_never_hides_a_route_that_would_answer(app: FastAPI) -> None:
    """For every path any route serves (and near misses), with every method, each router entry
    answers exactly as it would unguarded: NONE only where the router itself says NONE."""
    checked = 0
    for path in _sample_paths(app):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            for entry in app.router.routes:
                guard = entry_guard(entry)
                if guard is None:
                    continue
                guarded_match, _ = guard(_scope(app, path, method))
                inner_match, _ = guard.inner(_scope(app, path, method))
                assert guarded_match == inner_match, (path, method, entry)
                checked += 1
    assert checked > 5_000


def _routers_asked(app: FastAPI, path: str) -> int:
    """How many router entries ran their own matching for a request to `path`."""
    asked = 0
    scope = _scope(app, path)
    for entry in app.router.routes:
        guard = entry_guard(entry)
        if guard is None:
            match, _ = entry.matches(scope)
        else:
            match, _ = guard(scope)
            asked += guard.may_match(scope["gongchuang.route_segments"][1])
        if match is Match.FULL:
            return asked
    return asked


@pytest.mark.parametrize(
    ("first", "last"),
    [("/api/v1/points/villages", "/api/v1/training/courses"), ("/points", "/training")],
)
def test_the_last_module_is_reached_as_cheaply_as_the_first(
    app: FastAPI, first: str, last: str
) -> None:
    """Before, a request to the module registered last had every earlier module's routes
    tried first; now each request asks only the routers filed under its prefix."""
    assert _routers_asked(app, first) == _routers_asked(app, last) == 1


def test_a_guard_asks_its_router_only_for_paths_under_its_starts() -> None:
    calls = []

    def inner(scope: dict[str, object]) -> tuple[Match, dict[str, object]]:
        calls.append(scope["path"])
        return Match.NONE, {}

    guard = PrefixGuard(inner, [("points",)])
    assert guard({"type": "http", "path": "/training", "root_path": ""})[0] is Match.NONE
    assert guard({"type": "http", "path": "/points/1", "root_path": ""})[0] is Match.NONE
    assert calls == ["/points/1"]


def test_a_router_with_a_route_at_any_path_is_never_skipped() -> None:
    from fastapi import APIRouter

    from gongchuang.core.routing import route_by_prefix

    app = FastAPI()
    anywhere = APIRouter()
    anywhere.add_api_route("/{slug}", lambda slug: slug)
    own = APIRouter(prefix="/points")
    own.add_api_route("/x", lambda: "x")
    app.include_router(anywhere)
    app.include_router(own)
    guarded = route_by_prefix(app)
    assert list(guarded.values()) == [(("points", "x"),)]
    assert entry_guard(app.router.routes[-2]) is None
