from pathlib import Path

from alembic import command
from fastapi.testclient import TestClient

from gongchuang.app import create_app
from gongchuang.core.db import Database
from gongchuang.migrate import alembic_config
from tests.support.databases import fresh_database_url


def test_health_readiness_and_metrics(tmp_path: Path) -> None:
    with fresh_database_url(tmp_path, "ops") as url:
        database = Database(url)
        try:
            with TestClient(create_app(database, background=False)) as client:
                assert client.get("/healthz").json() == {"status": "ok"}
                ready = client.get("/readyz")
                assert ready.status_code == 200 and ready.json()["schema"]
                client.get("/regions")
                metrics = client.get("/metrics").text
                assert 'gongchuang_http_requests_total{method="GET",route="/regions"' in metrics
                command.downgrade(alembic_config(url), "base")
                stale = client.get("/readyz")
                assert stale.status_code == 503
                assert "gongchuang db upgrade" in stale.json()["hint"]
        finally:
            database.dispose()


def test_pages_carry_a_strict_content_security_policy(client) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    # The API's documentation too: Swagger UI is started by a file of ours, not inline.
    docs = client.get("/api/docs")
    assert docs.headers["content-security-policy"] == policy
    assert "<script>" not in docs.text and '<script src="/static/js/api-docs.js">' in docs.text


def test_home_page_figures_are_cached_for_a_minute(session, world) -> None:
    from gongchuang.core import stats
    from tests.support.world import make_person

    stats.forget()
    first = stats.platform_counts(session, now=1000.0)
    make_person(session, "13688889999", "新来的")
    assert stats.platform_counts(session, now=1030.0) == first
    assert stats.platform_counts(session, now=1061.0).people == first.people + 1
    stats.forget()


def test_no_free_database_connection_is_a_503_with_retry_after(database) -> None:  # type: ignore[no-untyped-def]
    """A worker whose connections are all busy past the pool's timeout says so (503, try again
    shortly), not a 500."""
    from fastapi import APIRouter
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    # An app of its own: a route is added to it, and the session's app is shared.
    app = create_app(database, background=False)
    probe = APIRouter()

    @probe.get("/api/v1/_test/pool-exhausted")
    def exhausted() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached")

    app.include_router(probe)
    answer = TestClient(app).get("/api/v1/_test/pool-exhausted", headers={"Accept-Language": "en"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert "busy" in answer.json()["title"]
