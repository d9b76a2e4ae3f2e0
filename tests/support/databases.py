"""Test databases: a fresh migrated database per worker (SQLite file or PostgreSQL database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def fresh_database_url(tmp_dir: Path, label: str = "db") -> Iterator[str]:
    """A new, empty, migrated database; dropped afterwards."""
    if BACKEND == "postgresql":
        name = f"gc_{label}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            yield url
        finally:
            with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_dir / f"{label}-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


@contextmanager
def fresh_database(tmp_dir: Path, label: str = "db") -> Iterator[Database]:
    with fresh_database_url(tmp_dir, label) as url:
        database = Database(url)
        try:
            yield database
        finally:
            database.dispose()
