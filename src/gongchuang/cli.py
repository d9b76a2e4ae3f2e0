"""The `gongchuang` command: serve | worker | demo | db upgrade | import | export | audit verify."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from gongchuang.config import get_settings

app = typer.Typer(help="Gongchuang 共创 — community public-good platform", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
import_app = typer.Typer(help="Import data (all-or-nothing)", no_args_is_help=True)
export_app = typer.Typer(help="Export data", no_args_is_help=True)
audit_app = typer.Typer(help="The audit ledger", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(audit_app, name="audit")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Processes; >1 needs PostgreSQL")] = 1,
    reload: bool = False,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from gongchuang.core.ops import configure_logging

    settings = get_settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo(
            "Several workers need PostgreSQL (live updates cross processes through it).", err=True
        )
        raise typer.Exit(2)
    configure_logging(settings.log_level, settings.log_json)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before the workers import prometheus_client; emptied at each start.
        metrics_dir = Path(tempfile.gettempdir()) / f"gongchuang-metrics-{port}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        "gongchuang.asgi:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=5,
    )


@app.command()
def worker(
    plugin: Annotated[list[str] | None, typer.Option(help="Extra module registering jobs")] = None,
    once: bool = False,
) -> None:
    """Run durable jobs (in addition to the thread each web worker runs)."""
    from gongchuang.core import audit, jobs, push  # noqa: F401 - push registers its channel
    from gongchuang.core.db import get_database
    from gongchuang.core.ops import configure_logging
    from gongchuang.modules import load_modules

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    load_modules()
    for name in plugin or []:
        importlib.import_module(name)
    database = get_database()
    if once:
        typer.echo(f"ran {jobs.run_due(database)} jobs")
        audit.seal_all(database)
        return
    # What the jobs write to the audit ledger is chained by this process too, so that a
    # worker running alone (no web process) leaves no entry unsealed.
    audit.Sealer(database).start()
    jobs.Worker(database).run_forever()


@app.command("push-keys")
def push_keys() -> None:
    """Print a new VAPID key pair for Web Push, as environment lines."""
    from gongchuang.core.push import generate_keys

    private_pem, public = generate_keys()
    escaped = private_pem.strip().replace("\n", "\\n")
    typer.echo(f"GONGCHUANG_VAPID_PRIVATE_KEY_PEM='{escaped}'")
    typer.echo(f"# public key (served at /api/v1/push/public-key): {public}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (creates the SQLite file under var/ if needed)."""
    from gongchuang.migrate import upgrade

    upgrade(revision=revision)
    typer.echo("database is at " + revision)


@app.command()
def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Skip when data exists")] = False,
    replay_incident: Annotated[
        bool,
        typer.Option(
            "--replay-incident",
            help="Play a cardiac arrest at the demo mall step by step (watch the 120 console)",
        ),
    ] = False,
    pause: Annotated[float, typer.Option(help="Seconds between replay steps")] = 3.0,
) -> None:
    """Load the demo world (a real county with invented towns and villages)."""
    from gongchuang.core.db import get_database
    from gongchuang.demo import load_demo_world

    if replay_incident:
        from gongchuang.emergency.demo import replay_incident as replay
        from gongchuang.modules import load_modules

        load_modules()
        replay(get_database(), pause, typer.echo)
        return
    with get_database().transaction() as session:
        summary = load_demo_world(session, only_if_empty=if_empty)
    typer.echo(summary)


@import_app.command("regions")
def import_regions(
    file: Annotated[
        Path | None, typer.Argument(help="CSV: code,name,level,parent_code,kind")
    ] = None,
    builtin: Annotated[bool, typer.Option("--builtin", help="All of China's counties")] = False,
) -> None:
    """Import regions; a bad row is reported with its line number and nothing is stored."""
    from gongchuang.core import regions
    from gongchuang.core.db import get_database
    from gongchuang.core.errors import GongchuangError
    from gongchuang.core.permissions import SYSTEM

    if builtin == (file is not None):
        typer.echo("Give either a CSV file or --builtin.", err=True)
        raise typer.Exit(2)
    try:
        if file is not None:
            rows = regions.parse_csv(file.read_bytes(), file.name)
        else:
            rows = regions.builtin_rows()
        with get_database().transaction() as session:
            created, updated = regions.import_rows(session, SYSTEM, rows)
    except GongchuangError as exc:
        typer.echo(str(exc), err=True)
        for error in exc.errors[:50]:
            typer.echo(f"  line {error.get('line', '?')}: {error.get('message')}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{created} regions created, {updated} updated")


@export_app.command("regions")
def export_regions(out: Annotated[Path, typer.Argument()] = Path("-")) -> None:
    """Export regions as CSV in the import format."""
    from sqlalchemy import select

    from gongchuang.core import spreadsheets
    from gongchuang.core.db import get_database
    from gongchuang.core.models import Region

    handle = sys.stdout if str(out) == "-" else out.open("w", newline="", encoding="utf-8")
    with get_database().transaction(write=False) as session:
        codes = {row.id: row.code for row in session.execute(select(Region.id, Region.code))}
        spreadsheets.write_csv(
            handle,
            ["code", "name", "level", "parent_code", "kind"],
            (
                [
                    region.code,
                    region.name,
                    region.level,
                    codes.get(region.parent_id, "") if region.parent_id else "",
                    region.kind,
                ]
                for region in session.scalars(select(Region).order_by(Region.id))
            ),
        )
    if handle is not sys.stdout:
        handle.close()


@export_app.command("audit")
def export_audit(out: Annotated[Path, typer.Argument()] = Path("-")) -> None:
    """Export the audit ledger as JSON lines (for an outside verifier or archive)."""
    import json

    from sqlalchemy import select

    from gongchuang.core.audit import _jsonable, seal_all
    from gongchuang.core.db import get_database
    from gongchuang.core.models import AuditEntry

    handle = sys.stdout if str(out) == "-" else out.open("w", encoding="utf-8")
    seal_all(get_database())  # entries committed a moment ago, chained before they are read
    with get_database().transaction(write=False) as session:
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq)
        ):
            handle.write(
                json.dumps(
                    _jsonable(
                        {
                            "id": e.id,
                            "seq": e.seq,
                            "occurred_at": e.occurred_at,
                            "actor": e.actor_label,
                            "action": e.action,
                            "object_type": e.object_type,
                            "object_id": e.object_id,
                            "before": e.before,
                            "after": e.after,
                            "prev_hash": e.prev_hash,
                            "hash": e.entry_hash,
                        }
                    ),
                    ensure_ascii=False,
                )
                + "\n"
            )
    if handle is not sys.stdout:
        handle.close()


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; name the first broken entry."""
    from gongchuang.core.audit import seal_all, verify_chain
    from gongchuang.core.db import get_database

    seal_all(get_database())
    with get_database().transaction(write=False) as session:
        report = verify_chain(session)
    if report.ok:
        typer.echo(f"OK: {report.checked} entries verified")
        return
    typer.echo(
        f"BROKEN at entry {report.broken_entry_id}: {report.reason} "
        f"({report.checked} entries before it verified)",
        err=True,
    )
    raise typer.Exit(1)


if __name__ == "__main__":
    app()
