"""Test databases: a fresh migrated database per worker (SQLite file or PostgreSQL database)."""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from gongchuang.core.db import Database
from gongchuang.migrate import upgrade

BACKEND = os.environ.get("GONGCHUANG_TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "GONGCHUANG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_admin_conninfo() -> str:
    return make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)


# Building a database is paid once per test process and kind: migrating (and loading the demo
# world, ~8 s on SQLite and ~14 s on PostgreSQL on a 2-core machine) happens in a template that
# each test copies (SQLite's backup API; PostgreSQL's CREATE DATABASE ... TEMPLATE). Every test
# still gets a database of its own.
_templates: dict[tuple[str, ...], str] = {}
_template_dir: Path | None = None


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_templates() -> None:
    if BACKEND != "postgresql":
        return
    with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
        for name in _templates.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _template(key: tuple[str, ...], build: Callable[[str], None] | None) -> str:
    """The name (PostgreSQL) or path (SQLite) of a migrated template, `build` run on it once."""
    global _template_dir
    if key in _templates:
        return _templates[key]
    if BACKEND == "postgresql":
        name = f"gc_tpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        if not _templates:
            atexit.register(_drop_templates)
        _templates[key] = name
        url = _pg_url(name)
    else:
        if _template_dir is None:
            _template_dir = Path(tempfile.mkdtemp(prefix="gongchuang-templates-"))
            atexit.register(shutil.rmtree, _template_dir, ignore_errors=True)
        path = _template_dir / f"{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        _templates[key] = str(path)
    upgrade(url)
    if build is not None:
        build(url)
    return _templates[key]


@contextmanager
def _copy_of(template: str, tmp_dir: Path, label: str) -> Iterator[str]:
    if BACKEND == "postgresql":
        name = f"gc_{label}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield _pg_url(name)
        finally:
            with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_dir / f"{label}-{uuid.uuid4().hex[:8]}.db"
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
            source.backup(copy)
        yield f"sqlite:///{path}"


@contextmanager
def fresh_database_url(tmp_dir: Path, label: str = "db") -> Iterator[str]:
    """A new, empty, migrated database; dropped afterwards."""
    with _copy_of(_template(("migrated",), None), tmp_dir, label) as url:
        yield url


def _load_demo(people_count: int, points_weeks: int) -> Callable[[str], None]:
    def build(url: str) -> None:
        from gongchuang.demo import load_demo_world

        database = Database(url)
        try:
            with database.transaction() as session:
                load_demo_world(session, people_count=people_count, points_weeks=points_weeks)
        finally:
            database.dispose()

    return build


@contextmanager
def demo_database_url(
    tmp_dir: Path, label: str = "demo", *, people_count: int = 40, points_weeks: int = 8
) -> Iterator[str]:
    """A database of its own holding the demo world, copied from one built once per process."""
    key = ("demo", str(people_count), str(points_weeks))
    template = _template(key, _load_demo(people_count, points_weeks))
    with _copy_of(template, tmp_dir, label) as url:
        yield url


@contextmanager
def fresh_database(tmp_dir: Path, label: str = "db") -> Iterator[Database]:
    with fresh_database_url(tmp_dir, label) as url:
        database = Database(url)
        try:
            yield database
        finally:
            database.dispose()
