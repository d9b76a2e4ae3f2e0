"""Routing that does not grow with the module count.

FastAPI keeps each included router as one entry of the app's route list and matches a request
by asking every entry in turn; an entry asks each of its routes (a regular expression each).
With ~230 routes, a request to the module registered last paid for every route of every module
before it: ~280 µs for a training page against ~50 µs for the first module's API on this
machine (bench/http_core.py prints the figures).

`route_by_prefix` files each included router under the literal segments its routes' paths start
with (`/api/v1/points/...` under ("api", "v1", "points"), a module's pages under ("points",))
and lets it answer "no match" at once for a path outside them. Which route answers is unchanged:
the same entries are asked in the same order and a router that may match is asked as before;
only routers that cannot match are skipped. A router with a route whose path starts with a
parameter is never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, get_route_path
from starlette.types import Scope

# How many literal segments a route is filed under: three tell every module apart, for pages
# (/points/manage/...) and for the API (/api/v1/points/...).
DEPTH = 3
_SEGMENTS_KEY = "gongchuang.route_segments"


def segments(path: str) -> tuple[str, ...]:
    """The first DEPTH segments of a path: "/api/v1/points/x" → ("api", "v1", "points")."""
    return tuple(path.strip("/").split("/")[:DEPTH])


def literal_start(path: str) -> tuple[str, ...]:
    """The literal segments a route's path starts with, up to DEPTH (stopping at the first
    parameter): "/points/villages/{id}" → ("points", "villages"), "/{slug}" → ()."""
    literal: list[str] = []
    for segment in segments(path):
        if "{" in segment:
            break
        literal.append(segment)
    return tuple(literal)


class PrefixGuard:
    """A router entry's `matches`, answering NONE at once for a path that starts with none of
    the entry's literal starts."""

    def __init__(
        self, matches: Callable[[Scope], tuple[Match, Scope]], starts: Iterable[tuple[str, ...]]
    ):
        self.inner = matches
        self.by_length: dict[int, frozenset[tuple[str, ...]]] = {}
        for start in set(starts):
            self.by_length[len(start)] = self.by_length.get(len(start), frozenset()) | {start}

    def may_match(self, path_segments: tuple[str, ...]) -> bool:
        return any(path_segments[:length] in starts for length, starts in self.by_length.items())

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        path_segments = scope.get(_SEGMENTS_KEY)
        if path_segments is None or path_segments[0] != scope.get("path"):
            # Worked out once a request (a redirect's scope is a copy with its own path).
            path_segments = (scope.get("path"), segments(get_route_path(scope)))
            scope[_SEGMENTS_KEY] = path_segments
        if not self.may_match(path_segments[1]):
            return Match.NONE, {}
        return self.inner(scope)


def _route_paths(entry: BaseRoute) -> list[str] | None:
    """The full paths of an included router's routes; None for any other entry."""
    contexts = getattr(entry, "effective_route_contexts", None)
    if contexts is None:
        return None
    paths: list[str] = []
    for context in contexts():
        route = context.starlette_route or context.original_route
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            return None  # a Host or something without a path: leave the entry unguarded
        paths.append(path)
    return paths


def _shortest(starts: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """The starts that no shorter start in the set already covers: {("points",),
    ("points", "villages")} → {("points",)}."""
    return {s for s in starts if not any(s[:n] in starts for n in range(len(s)))}


def route_by_prefix(app: FastAPI) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Guard every included router of the app by its routes' literal starts. Call it once the
    routes are all included. Returns, for tests and the benchmark, each guarded router's starts
    (keyed by its position and first path)."""
    guarded: dict[str, tuple[tuple[str, ...], ...]] = {}
    for position, entry in enumerate(app.router.routes):
        paths = _route_paths(entry)
        if not paths:
            continue
        starts = _shortest({literal_start(path) for path in paths})
        if () in starts:
            continue  # a route any path might match: this router is always asked
        guard = PrefixGuard(entry.matches, starts)
        entry.matches = guard  # type: ignore[method-assign]
        guarded[f"{position}:{paths[0]}"] = tuple(sorted(starts))
    return guarded


def entry_guard(entry: Any) -> PrefixGuard | None:
    guard = getattr(entry, "matches", None)
    return guard if isinstance(guard, PrefixGuard) else None
