"""Shared fixtures. The same suite runs on SQLite and on PostgreSQL
(GONGCHUANG_TEST_DATABASE=sqlite|postgresql); each test runs in a transaction rolled back."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

os.environ.setdefault("GONGCHUANG_LOG_JSON", "false")
os.environ.setdefault("GONGCHUANG_STORAGE_DIR", "/tmp/gongchuang-test-files")
# The suite logs in thousands of times (and its servers, which inherit this): argon2id with the
# production profile costs ~0.1 s of CPU each. tests/core/test_auth.py checks that profile.
os.environ.setdefault("GONGCHUANG_HASH_PROFILE", "fast-for-tests")

from gongchuang.app import create_app
from gongchuang.core import auth
from gongchuang.core.db import Database, set_database
from gongchuang.core.web import db_session
from gongchuang.modules import load_modules
from tests.support.databases import BACKEND, drop_templates, fresh_database
from tests.support.openapi import OpenAPIValidator, ValidatingClient
from tests.support.scheduling import keep_our_order, longest_first
from tests.support.world import PASSWORD, World, build_world

# Every module's permissions, roles, subscribers and jobs, as each process of the platform has
# them (the web app's and the job worker's): services called directly see the same platform.
load_modules()


def pytest_report_header() -> str:
    return f"gongchuang test database: {BACKEND}"


def pytest_configure(config: pytest.Config) -> None:
    """The controlling process of an xdist run names the run itself, so that it knows which
    database templates its test processes share (tests.support.databases) and removes them; it
    hands out the work in the order tests.support.scheduling gives the items."""
    if (
        not hasattr(config, "workerinput")
        and config.getoption("numprocesses", None)
        and config.getoption("testrunuid", None) is None
    ):
        config.option.testrunuid = uuid.uuid4().hex
    keep_our_order(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        run = session.config.getoption("testrunuid", None)
        if run:
            drop_templates(run)


# Test modules of pure functions (numbers, text, algorithms, files): the same on either
# database, so run once, on the SQLite half.
DATABASE_FREE = {
    "tests/core/test_identity.py",
    "tests/core/test_money.py",
    "tests/core/test_pdf_fonts.py",
    "tests/core/test_spreadsheets.py",
    "tests/charity/test_rules.py",
    "tests/emergency/test_matching.py",
    "tests/emergency/test_opening_hours.py",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BACKEND != "postgresql" and item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.skip(reason="needs GONGCHUANG_TEST_DATABASE=postgresql"))
        if BACKEND == "postgresql" and item.nodeid.split("::")[0] in DATABASE_FREE:
            item.add_marker(
                pytest.mark.skip(reason="never touches a database: runs on the SQLite half")
            )
    # The longest work first, so that the test processes of a run end together.
    longest_first(items)


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with fresh_database(tmp_path_factory.mktemp("db"), "worker") as db:
        set_database(db)
        yield db
        set_database(None)


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; the code under test
    may commit, which only releases a savepoint."""
    connection = database.engine.connect()
    outer = connection.begin()
    test_session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield test_session
    finally:
        test_session.close()
        if outer.is_active:
            outer.rollback()
        connection.close()


@pytest.fixture
def world(session: Session) -> World:
    built = build_world(session)
    # Releases the savepoint only: a request that fails later rolls back to here.
    session.commit()
    return built


@pytest.fixture(scope="session")
def app(database: Database) -> FastAPI:
    return create_app(database, background=False)


@pytest.fixture(scope="session")
def openapi_validator(app: FastAPI) -> OpenAPIValidator:
    return OpenAPIValidator(app.openapi())


@pytest.fixture
def client(
    app: FastAPI, session: Session, openapi_validator: OpenAPIValidator
) -> Iterator[ValidatingClient]:
    def test_session() -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    app.dependency_overrides[db_session] = test_session
    with ValidatingClient(app, base_url="http://testserver") as test_client:
        app.state.database = _SessionBoundDatabase(session)
        test_client.validator = openapi_validator
        yield test_client
    app.dependency_overrides.clear()


class _SessionBoundDatabase:
    """Routes that open their own unit of work (uploads, streams) use the test's session."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.is_postgres = session.get_bind().dialect.name == "postgresql"

    def transaction(self, *, write: bool = True):  # type: ignore[no-untyped-def]
        from contextlib import contextmanager

        @contextmanager
        def unit() -> Iterator[Session]:
            try:
                yield self._session
                self._session.commit()
            except BaseException:
                self._session.rollback()
                raise

        return unit()


def csrf_token(client: ValidatingClient) -> str:
    """Visit a page so that the CSRF cookie is set, and derive the form token from it."""
    if not client.cookies.get(auth.CSRF_COOKIE):
        client.get("/login")
    return auth.csrf_token_for(client.cookies[auth.CSRF_COOKIE])


def login(client: ValidatingClient, phone: str, password: str = PASSWORD) -> None:
    response = client.post(
        "/login",
        data={"phone": phone, "password": password, "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def api_token(client: ValidatingClient, phone: str, scopes: list[str]) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/tokens",
        json={"phone": phone, "password": PASSWORD, "name": "test", "scopes": scopes},
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path
