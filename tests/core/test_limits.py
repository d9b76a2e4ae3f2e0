"""Request bodies are limited per route before they are read: a larger Content-Length is
refused at once, a chunked body is stopped at the limit, and nothing of it is stored."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator

import pytest
from fastapi import params
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from gongchuang.core import limits
from gongchuang.core.models import ApiToken, StoredFile
from gongchuang.modules import DOMAIN_MODULES
from tests.conftest import api_token, csrf_token, login

ROUTE_MODULES = [
    "gongchuang.core.api",
    "gongchuang.core.pages",
    "gongchuang.core.ops",
    *(f"{name}.{part}" for name in DOMAIN_MODULES for part in ("api", "pages")),
]


def _routes() -> Iterator[APIRoute]:
    for name in ROUTE_MODULES:
        module = importlib.import_module(name)
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                yield route


def _takes_a_file(route: APIRoute) -> bool:
    return route.body_field is not None and isinstance(route.body_field.field_info, params.File)


def test_every_route_that_takes_a_file_says_how_much_and_no_other_route_allows_more() -> None:
    """A route that takes a file would otherwise answer 413 to any file over the JSON default;
    any other route allowing more than the default would be a hole."""
    seen = 0
    for route in _routes():
        seen += 1
        if _takes_a_file(route):
            assert route.max_body_size == limits.UPLOAD_BODY_BYTES, route.path
        else:
            assert (route.max_body_size or 0) <= limits.JSON_BODY_BYTES, route.path
    assert seen > 200


def test_a_json_body_over_the_default_is_refused_in_the_readers_language(client, world) -> None:
    body = json.dumps({"phone": world.villager_a.phone, "password": "x" * limits.JSON_BODY_BYTES})
    response = client.post(
        "/api/v1/auth/tokens",
        content=body,
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == (
        "The request is larger than this address accepts (1024 KB)"
    )


def test_a_chunked_body_is_stopped_at_the_limit(client, world, session) -> None:
    """No Content-Length to refuse early: the reader stops when the limit is passed."""
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"name": "t", "scopes": ["read"], "password": "'
        for _ in range(4 * 1024):
            sent += 1
            yield b"x" * 1024
        yield b'"}'

    before = session.scalar(select(func.count(ApiToken.id)))
    response = client.post(
        "/api/v1/auth/tokens", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert session.scalar(select(func.count(ApiToken.id))) == before


def test_a_file_larger_than_the_json_default_still_uploads(client, world) -> None:
    headers = api_token(client, world.villager_a.phone, ["read"])
    pdf = b"%PDF-1.4\n" + b"0" * (2 * limits.JSON_BODY_BYTES)
    response = client.post("/api/v1/files", files={"file": ("plan.pdf", pdf)}, headers=headers)
    assert response.status_code == 201, response.text


def test_a_page_form_over_its_limit_gets_a_page_not_a_crash(client, world, session) -> None:
    login(client, world.villager_a.phone)
    before = session.scalar(select(func.count(StoredFile.id)))
    response = client.post(
        "/login",
        data={"phone": "1" * limits.JSON_BODY_BYTES, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "请求" in response.text
    assert session.scalar(select(func.count(StoredFile.id))) == before


@pytest.mark.parametrize("size", [0, limits.UPLOAD_FILE_CEILING + 1])
def test_the_per_file_setting_stays_within_the_request_ceiling(size: int) -> None:
    from pydantic import ValidationError

    from gongchuang.config import Settings

    with pytest.raises(ValidationError):
        Settings(upload_max_bytes=size)
