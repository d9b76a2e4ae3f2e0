"""Pure ASGI middleware (BaseHTTPMiddleware costs a task and a stream per request)."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gongchuang.config import get_settings
from gongchuang.core.auth import CSRF_COOKIE
from gongchuang.core.i18n import current_locale, negotiate

log = logging.getLogger("gongchuang.access")
LANGUAGE_COOKIE = "gc_lang"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


# Scripts only from our own origin: no inline script anywhere in the shell. htmx adds one
# <style> for its indicators, hence style-src 'unsafe-inline'.
def _tile_origin() -> bytes:
    """Map tiles are the one kind of image a deployment may load from elsewhere."""
    parts = urlsplit(get_settings().map_tile_url.replace("{s}", "*"))
    return f" {parts.scheme}://{parts.netloc}".encode() if parts.scheme and parts.netloc else b""


CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data: blob:" + _tile_origin() + b"; connect-src 'self'; worker-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class ShellMiddleware:
    """Sets the request's locale, security headers, and the CSRF seed cookie when a page
    rendered a form for a visitor who had none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        api = scope["path"].startswith("/api/")
        locale = negotiate(
            connection.query_params.get("lang"),
            None if api else connection.cookies.get(LANGUAGE_COOKIE),
            connection.headers.get("accept-language") if api else None,
        )
        had_seed = bool(connection.cookies.get(CSRF_COOKIE))
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY))
                seed = state.get("new_csrf_seed")
                if seed and not had_seed:
                    configured = get_settings().cookie_secure
                    secure = configured if configured is not None else scope["scheme"] == "https"
                    cookie = f"{CSRF_COOKIE}={seed}; HttpOnly; Path=/; SameSite=lax"
                    headers.append(
                        (b"set-cookie", (cookie + ("; Secure" if secure else "")).encode("latin-1"))
                    )
                message["headers"] = headers
            await send(message)

        token = current_locale.set(locale)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            current_locale.reset(token)


class ObserveMiddleware:
    """Prometheus request counts and latencies by route template; logs slow or failed ones."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from gongchuang.core.ops import LATENCY, REQUESTS

        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            if status >= 500 or (elapsed > 1.0 and not route.endswith("/stream")):
                log.warning(
                    "slow or failed request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                    },
                )


class RefusedBodyAnswer:
    """Starlette's body limit answers a request whose Content-Length is over the limit with a
    plain-text "Content Too Large" in English (it replaces whatever the app would have sent).
    This answers it as every other refusal is: problem+json for the API, a page for people, in
    the reader's language. Sits just outside the app's RequestBodyLimitMiddleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def answer(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the plain-text body of the response replaced below
            if (
                message["type"] == "http.response.start"
                and message["status"] == 413
                and dict(message.get("headers", []))
                .get(b"content-type", b"")
                .startswith(b"text/plain")
            ):
                from gongchuang.core.limits import too_large
                from gongchuang.core.web import error_response

                replaced = True
                request = Request(scope, receive)
                response = error_response(request, too_large(scope.get(MAX_BODY_SIZE_SCOPE_KEY)))
                await response(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, answer)
