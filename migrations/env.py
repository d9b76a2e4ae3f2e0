"""Alembic environment: one migration tree for SQLite and PostgreSQL (batch mode for SQLite)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gongchuang.config import get_settings
from gongchuang.core.db import Base, make_engine
from gongchuang.models_registry import load_all_models

load_all_models()
config = context.config
target_metadata = Base.metadata


def _pragma(connection: Connection, statement: str) -> None:
    """On the DB-API connection, outside any transaction (SQLAlchemy would begin one first,
    and the engine's BEGIN IMMEDIATE with it)."""
    if connection.in_transaction():
        connection.commit()
    raw = connection.connection.driver_connection
    if raw is None:
        raise RuntimeError("the SQLite connection was closed before its pragma")
    raw.execute(statement)


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a SQLite table (copy, drop, rename): with foreign keys enforced,
        # dropping a table other rows point to fails (an AED that alerts refer to). SQLite
        # ignores this pragma inside a transaction, so it is set before; the keys are checked
        # once the migration is done.
        _pragma(connection, "PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            _pragma(connection, "PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or get_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
