"""Validates every /api/v1 response a test receives against the app's own OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator


class OpenAPIValidator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.routes = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$"), path)
            for path in spec["paths"]
        ]

    def schema_for(
        self, method: str, path: str, status: int, content_type: str
    ) -> dict[str, Any] | None:
        for pattern, template in self.routes:
            if pattern.match(path):
                operation = self.spec["paths"][template].get(method.lower())
                if operation is None:
                    continue
                responses = operation["responses"]
                response = responses.get(str(status)) or responses.get("default")
                assert response is not None, (
                    f"{method} {template} answered {status}, which the OpenAPI does not declare"
                )
                content = response.get("content", {})
                media = content.get(content_type) or {}
                return media.get("schema") if media else None
        raise AssertionError(f"{method} {path} is not in the OpenAPI document")

    def validate(self, response: httpx.Response) -> None:
        request = response.request
        path = request.url.path
        if not path.startswith("/api/v1") or "stream" in path:
            return
        content_type = response.headers.get("content-type", "").split(";")[0]
        schema = self.schema_for(request.method, path, response.status_code, content_type)
        if response.status_code == 204 or not content_type.endswith("json"):
            return
        body = response.json()
        if schema is None:
            if content_type == "application/problem+json":
                schema = {"$ref": "#/components/schemas/Problem"}
            else:
                raise AssertionError(f"no schema for {request.method} {path} {content_type}")
        validator = Draft202012Validator({**schema, "components": self.spec["components"]})
        errors = sorted(validator.iter_errors(body), key=lambda e: e.path)
        assert not errors, f"{request.method} {path} response breaks its schema: {errors[0]}"


class ValidatingClient(TestClient):
    """A TestClient whose API responses must match the published OpenAPI schema."""

    validator: OpenAPIValidator

    def request(self, *args: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        self.validator.validate(response)
        return response
