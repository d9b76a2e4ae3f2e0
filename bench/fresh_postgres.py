"""A throw-away PostgreSQL database for one benchmark, migrated to head and dropped after."""

from __future__ import annotations

import os
import uuid

import psycopg

from gongchuang.core.db import Database
from gongchuang.migrate import upgrade

PG_ADMIN = os.environ.get("GONGCHUANG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


class FreshPostgres:
    def __init__(self, label: str) -> None:
        self.name = f"gc_bench_{label}_{uuid.uuid4().hex[:8]}"
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        self.url = f"{base}/{self.name}"

    def __enter__(self) -> FreshPostgres:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        upgrade(self.url)
        self.database = Database(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        self.database.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
