"""The `gongchuang` command against its own fresh database."""

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gongchuang.cli import app
from gongchuang.core.db import Database, set_database
from tests.support.databases import fresh_database

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path):
    with fresh_database(tmp_path, "cli") as database:
        set_database(database)
        yield database
    set_database(None)


def test_import_reports_the_bad_line_and_stores_nothing(cli_db: Database, tmp_path: Path) -> None:
    csv_file = tmp_path / "regions.csv"
    csv_file.write_text(
        "code,name,level,parent_code,kind\n430000,湖南省,province,,省\n"
        "431300,娄底市,city,430000,地级市\n431322,,county,431300,县\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "regions", str(csv_file)])
    assert result.exit_code == 1
    assert "line 4" in result.output.lower() or "第 4 行" in result.output
    with cli_db.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM region")).scalar() == 0


@pytest.mark.slow  # loads the demo world
def test_demo_then_audit_verify_then_tamper(cli_db: Database, tmp_path: Path) -> None:
    from gongchuang.demo import load_demo_world

    with cli_db.transaction() as session:
        # A month of points is enough for an audit chain to walk and break.
        load_demo_world(session, people_count=20, points_weeks=4)
    again = runner.invoke(app, ["demo", "--if-empty"])
    assert again.exit_code == 0 and "already present" in again.output
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "OK" in ok.output
    with cli_db.transaction() as session:
        victim = session.execute(
            text("SELECT id FROM audit_entry ORDER BY id LIMIT 1 OFFSET 5")
        ).scalar()
        session.execute(text("UPDATE audit_entry SET after = NULL WHERE id = :i"), {"i": victim})
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"BROKEN at entry {victim}" in broken.output
    exported = runner.invoke(app, ["export", "regions"])
    assert "431322,新化县,county,431300" in exported.output
