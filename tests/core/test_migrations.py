"""Models and migrations never drift, and migrations run down and up again, on both databases."""

from pathlib import Path

from alembic import command

from gongchuang.migrate import alembic_config
from tests.support.databases import fresh_database_url


def test_models_match_migrations_and_downgrade_works(tmp_path: Path) -> None:
    with fresh_database_url(tmp_path, "migrations") as url:
        config = alembic_config(url)
        command.check(config)  # raises when autogenerate would find changes
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        command.check(config)
