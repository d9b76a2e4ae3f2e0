"""Test databases: a fresh migrated database per worker (SQLite file or PostgreSQL database)."""

from __future__ import annotations

import atexit
import fcntl
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


# Building a database is paid once per test run and kind: migrating (and loading the demo
# world, ~8 s on SQLite and ~14 s on PostgreSQL on a 2-core machine) happens in a template that
# each test copies (SQLite's backup API; PostgreSQL's CREATE DATABASE ... TEMPLATE). Every test
# still gets a database of its own. Under pytest-xdist the test processes of one run share the
# templates: the first to need one builds it under a file lock while the others wait for it,
# and the controlling process removes them when the run ends (tests/conftest.py).
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"{os.getpid()}{uuid.uuid4().hex[:8]}"
_SHARED = "PYTEST_XDIST_TESTRUNUID" in os.environ
_TEMPLATE_PREFIX = "gc_tpl_"
_templates: dict[tuple[str, ...], str] = {}


def _template_dir(run: str = _RUN) -> Path:
    return Path(tempfile.gettempdir()) / f"gongchuang-templates-{run[:16]}"


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_template_names(run: str) -> list[str]:
    with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
        return [
            name
            for (name,) in admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (f"{_TEMPLATE_PREFIX}{run[:16]}%",),
            )
        ]


def drop_templates(run: str = _RUN) -> None:
    """Remove a run's templates (PostgreSQL databases and the SQLite folder)."""
    if BACKEND == "postgresql":
        names = _pg_template_names(run)
        with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(_template_dir(run), ignore_errors=True)


if not _SHARED:
    atexit.register(drop_templates)


def _pg_exists(name: str) -> bool:
    with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


def _template(key: tuple[str, ...], build: Callable[[str], None] | None) -> str:
    """The name (PostgreSQL) or path (SQLite) of a migrated template, `build` run on it once."""
    if key in _templates:
        return _templates[key]
    directory = _template_dir()
    directory.mkdir(parents=True, exist_ok=True)
    label = "_".join(key)
    with open(directory / f"{label}.lock", "w") as lock:
        # Held while building: another test process asking for the same template waits here.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if BACKEND == "postgresql":
            name = f"{_TEMPLATE_PREFIX}{_RUN[:16]}_{label}"
            if not _pg_exists(name):
                building = f"{name}_building"
                with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                    admin.execute(f'CREATE DATABASE "{building}"')
                _build(_pg_url(building), build)
                with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
                    admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            _templates[key] = name
        else:
            path = directory / f"{label}.db"
            if not path.exists():
                building_path = directory / f"{label}.building.db"
                building_path.unlink(missing_ok=True)
                _build(f"sqlite:///{building_path}", build)
                with closing(sqlite3.connect(building_path)) as built:
                    # Into the one file, so that the rename moves all of it.
                    built.execute("PRAGMA journal_mode=DELETE")
                building_path.rename(path)  # whole or not at all, for the processes that wait
            _templates[key] = str(path)
    return _templates[key]


def _build(url: str, build: Callable[[str], None] | None) -> None:
    upgrade(url)
    if build is not None:
        build(url)


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
