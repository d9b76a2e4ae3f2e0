"""The web shell's plumbing: request-scoped session and principal, CSRF, templates, errors."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path as FilePath
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from gongchuang.config import get_settings
from gongchuang.core import auth, notifications
from gongchuang.core.clock import local_time
from gongchuang.core.db import Database
from gongchuang.core.errors import (
    FIELD_PROBLEM,
    AuthenticationRequired,
    GongchuangError,
    PermissionDenied,
)
from gongchuang.core.i18n import (
    N_,
    current_locale,
    gettext,
    html_lang,
    ngettext,
    translations,
)
from gongchuang.core.identity import mask_phone
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.permissions import ANONYMOUS, Principal

# Ids fit the database's integer columns: an out-of-range id is a 422, not a database error.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
BigId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
F = TypeVar("F", bound=Callable[..., Any])
LARGE_TEXT_COOKIE = "gc_large"
PACKAGE_DIR = FilePath(__file__).resolve().parent.parent

template_dirs: list[FilePath] = [PACKAGE_DIR / "templates", PACKAGE_DIR / "core" / "templates"]


@dataclass(frozen=True)
class PersonalBlock:
    """A module's block on a signed-in person's home page: a read-only query of the module's
    service, which returns what concerns the person (or None, and the block is left out), and
    the module's template that draws it as `data`, linking to where the action is."""

    template: str
    query: Callable[[Session, Principal], Any]
    urgent: bool = False  # shown first (an alert to answer)


@dataclass(frozen=True)
class ModuleEntry:
    """A domain module as the home page lists it."""

    code: str
    title: str
    summary: str
    href: str
    # What cannot wait for a menu (a collapsed person): a block at the top of the home page
    # (a template) and a link in every page's header, for everyone, signed in or not.
    home_block: str | None = None
    header_link: tuple[str, str] | None = None  # (title, href)
    personal_block: PersonalBlock | None = None


modules: list[ModuleEntry] = []


def personal_blocks(session: Session, principal: Principal) -> list[tuple[str, Any]]:
    """The blocks of a signed-in person's home page that apply to them, as (template, data),
    urgent ones first: the core draws what the modules give it and knows none of them."""
    if not principal.is_authenticated:
        return []
    found = []
    for entry in modules:
        block = entry.personal_block
        if block is not None and (data := block.query(session, principal)) is not None:
            found.append((not block.urgent, block.template, data))
    return [(template, data) for _, template, data in sorted(found, key=lambda b: b[0])]


template_globals: dict[str, Callable[..., Any]] = {}


def register_template_global(name: str, function: Callable[..., Any]) -> None:
    """A function a module's templates call (e.g. opening hours said in words)."""
    global _templates
    if template_globals.get(name) is not function:
        template_globals[name] = function
        _templates = None


def register_module(entry: ModuleEntry, templates_dir: FilePath | None = None) -> None:
    """Idempotent: every app created in one process (tests make many) registers again."""
    global _templates
    if all(m.code != entry.code for m in modules):
        modules.append(entry)
    if templates_dir is not None and templates_dir not in template_dirs:
        template_dirs.append(templates_dir)
        _templates = None


def distance(metres: float | None) -> str:
    """A walking distance as people say it: 850 米, 1.3 公里 (850 m, 1.3 km)."""
    if metres is None:
        return ""
    if metres < 1000:
        return gettext("%(n)s m", n=int(round(metres / 10) * 10 or round(metres)))
    return gettext("%(n)s km", n=f"{metres / 1000:.1f}")


@pass_context
def csrf_field(context: Context) -> Any:
    """The hidden CSRF input every form that writes carries: `{{ csrf_field() }}`. One place
    (the macro in templates/_forms.html), so a form cannot forget it or spell it differently."""
    return context.environment.get_template("_forms.html").module.csrf_input(  # type: ignore[attr-defined]
        context["csrf_token"]
    )


def build_templates() -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_dirs]),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(),
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s, **kw: gettext(s, **kw),
        lambda s, p, n, **kw: ngettext(s, p, n, **kw),
        newstyle=True,
    )
    env.filters["local_time"] = local_time
    env.globals["csrf_field"] = csrf_field
    env.filters["mask_phone"] = mask_phone
    env.filters["yuan"] = lambda fen: "¥" + fen_to_yuan(int(fen))
    env.filters["distance"] = distance
    env.globals["modules"] = modules
    env.globals.update(template_globals)
    env.policies["ext.i18n.trimmed"] = True
    # |tojson keeps the keys in the order the page built them (a chart's series follow the
    # table beside it) and Chinese as is; it still writes <, >, & and ' as \u escapes.
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False}
    return Jinja2Templates(env=env)


_templates: Jinja2Templates | None = None


def templates() -> Jinja2Templates:
    global _templates
    if _templates is None:
        _templates = build_templates()
    return _templates


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def audited_read(endpoint: F) -> F:
    """Mark a GET route that writes down who looked (audited access to sensitive records):
    its transaction takes the write lock up front, so on SQLite it never has to upgrade a read
    snapshot (nor wait on a second transaction of its own)."""
    endpoint.__dict__["audited_read"] = True
    return endpoint


def _writes(request: Request) -> bool:
    # On SQLite a token-authenticated read may still write (the token's last-used time), so it
    # takes the write lock up front rather than fail to upgrade a read snapshot.
    return (
        request.method not in SAFE_METHODS
        or "authorization" in request.headers
        or getattr(request.scope.get("endpoint"), "audited_read", False)
    )


def db_session(request: Request) -> Iterator[Session]:
    """One request, one transaction; committed before the response is sent."""
    with get_database(request).transaction(write=_writes(request)) as session:
        yield session


DbSession = Annotated[Session, Depends(db_session, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_principal(request: Request, session: DbSession) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = _bearer(request)
    if token:
        principal = auth.principal_from_token(session, token)
    else:
        principal = (
            auth.principal_from_session(session, request.cookies.get(auth.SESSION_COOKIE))
            or ANONYMOUS
        )
        if (
            principal.is_authenticated
            and request.url.path.startswith("/api/")
            and request.method not in SAFE_METHODS
            and not auth.csrf_valid(
                request.cookies.get(auth.CSRF_COOKIE), request.headers.get("x-csrf-token")
            )
        ):
            raise PermissionDenied(N_("A browser session needs the X-CSRF-Token header to write"))
    request.state.principal = principal
    if principal.person_id is not None and not request.url.path.startswith("/api/"):
        request.state.unread_count = notifications.unread_count(session, principal.person_id)
        principal.grants(session)  # loaded now: the menus ask what the person may do
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_login(principal: CurrentPrincipal) -> Principal:
    # async: no I/O here, so no hop through the thread pool on every request.
    if not principal.is_authenticated:
        raise AuthenticationRequired()
    return principal


LoggedIn = Annotated[Principal, Depends(require_login)]


class Require:
    """Route-level declaration of a permission: the caller must be logged in and, for a token,
    hold the scope. Whether the permission holds for a given organisation is checked by the
    service's fetch-and-check helper (a missing and a forbidden object look the same)."""

    def __init__(self, *perms: str, platform: bool = False) -> None:
        # Several: a route serving holders of any of them (a project's staff and its approvers
        # both read its expenses).
        self.perms = perms
        self.platform = platform

    async def __call__(self, principal: LoggedIn) -> Principal:
        if not any(principal.scope_allows(perm) for perm in self.perms):
            raise PermissionDenied()
        if self.platform and not principal.is_platform_admin:
            raise PermissionDenied()
        return principal


def csrf_seed(request: Request) -> str:
    seed = request.cookies.get(auth.CSRF_COOKIE) or getattr(request.state, "new_csrf_seed", None)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.new_csrf_seed = seed
    return seed


async def check_csrf(request: Request) -> None:
    """Every state-changing form carries the token derived from the visitor's CSRF cookie."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    token = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not auth.csrf_valid(request.cookies.get(auth.CSRF_COOKIE), str(token or "")):
        raise PermissionDenied(N_("The form has expired. Please reload the page and try again."))


CsrfChecked = Depends(check_csrf)


async def form_data(request: Request) -> FormData:
    return await request.form()


# The form read asynchronously up front, so that a handler taking it can be a plain `def` and
# run in the thread pool: a database wait must never stall the event loop (whose next turn may
# be what lets the lock holder commit).
FormFields = Annotated[FormData, Depends(form_data)]


def client_source(request: Request) -> str:
    """The address a request came from (behind a proxy: run uvicorn with --proxy-headers and
    --forwarded-allow-ips so that this is the client's, not the proxy's)."""
    return request.client.host if request.client else ""


def cookie_secure(request: Request) -> bool:
    configured = get_settings().cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


def large_text(request: Request) -> bool:
    return request.cookies.get(LARGE_TEXT_COOKIE) == "1"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None) or ANONYMOUS
    locale = current_locale.get()
    ctx = {
        "principal": principal,
        "locale": locale,
        "html_lang": html_lang(locale),
        "large_text": large_text(request),
        "csrf_token": auth.csrf_token_for(csrf_seed(request)),
        "current_path": request.url.path,
        "current_url": str(request.url.path)
        + (f"?{request.url.query}" if request.url.query else ""),
        "unread_count": getattr(request.state, "unread_count", 0),
        # Menus offer what the person's roles allow: {% if can("emergency.dispatch") %}.
        "can": principal.holds_anywhere,
        **(context or {}),
    }
    # Translations must be the request's: the environment is shared across requests.
    translations(locale)
    return templates().TemplateResponse(request, template, ctx, status_code=status_code)


def site_url(request: Request) -> str:
    """The address the request came to, without its trailing slash: the start of the links a
    page or an answer hands out (behind a QR code, in a share link)."""
    return str(request.base_url).rstrip("/")


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status_code)


def problem(request: Request, error: GongchuangError) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://gongchuang.org/problems/{error.type_slug}",
        "title": gettext(error.title),
        "status": error.status_code,
        "detail": error.detail(),
        "instance": request.url.path,
    }
    if error.errors:
        body["errors"] = error.errors
    headers = {"Content-Language": html_lang(current_locale.get())}
    if isinstance(error, AuthenticationRequired):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        body, status_code=error.status_code, media_type="application/problem+json", headers=headers
    )


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in {"/healthz", "/readyz"}


def _text(message: Any) -> str:
    """A message as gettext takes it: a Phrase kept whole (str() would drop its message id)."""
    return message if isinstance(message, str) else str(message)


def form_problem(error: GongchuangError) -> dict[str, Any]:
    """A form's problem as forms.js shows it: the message, and each field concerned with its
    own words, in the reader's language (services give fields' messages as message ids)."""
    fields = [
        {"field": str(e["field"]), "message": gettext(_text(e.get("message") or error.message))}
        for e in error.errors
        if e.get("field")
    ]
    detail = error.detail()
    if error.message == FIELD_PROBLEM and fields:
        # "birth_date: …" names the field as the code does; the form marks the field itself.
        detail = fields[0]["message"]
    return {"title": gettext(error.title), "detail": detail, "fields": fields}


# Marks the request for the page a refused form came from (see form_error_page).
FORM_PAGE_HEADER = "x-gongchuang-form-page"
FORM_PROBLEM_STATUSES = {400, 409, 413, 422}


async def form_error_page(request: Request, error: GongchuangError) -> Response | None:
    """A form refused is answered with the page it was sent from, the problem beside its
    fields (forms.js marks them and puts back what was typed): not a separate error page the
    person has to leave. None where that page cannot be had (another site's, an API call, a
    page that answers with an error itself); then the error page answers."""
    if (
        request.method != "POST"
        or wants_json(request)
        or error.status_code not in FORM_PROBLEM_STATUSES
        or request.headers.get(FORM_PAGE_HEADER)
        # Problems by line or feature (a file's bad rows) are listed on the error page, which
        # names each one; a form page has nowhere to show them.
        or any(not e.get("field") or e.keys() & {"row", "line", "feature"} for e in error.errors)
    ):
        return None
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path.startswith("/") or referer.netloc != request.url.netloc:
        return None
    headers = {
        name: value
        for name, value in request.headers.items()
        if name in ("cookie", "user-agent", "accept-language")
    }
    headers[FORM_PAGE_HEADER] = "1"
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url)) as client:
        page = await client.get(
            referer.path + (f"?{referer.query}" if referer.query else ""), headers=headers
        )
    if page.status_code != 200 or not page.headers.get("content-type", "").startswith("text/html"):
        return None
    problem = form_problem(error)
    problem_json = json.dumps({"action": request.url.path, **problem}, ensure_ascii=False).replace(
        "<", "\\u003c"
    )
    block = f'<script type="application/json" id="form-problem">{problem_json}</script>\n'
    html = page.text.replace("</body>", block + "</body>", 1)
    # Said at the top of the page too, for a browser without scripts (forms.js moves it
    # into the form, beside the fields).
    banner = (
        f'<p class="form-problem" role="alert" id="form-problem-banner">'
        f"{escape(problem['detail'])}</p>"
    )
    html = re.sub(r"(<main\b[^>]*>)", lambda m: m.group(1) + banner, html, count=1)
    response = HTMLResponse(html, status_code=error.status_code)
    for name, value in page.headers.multi_items():
        if name.lower() == "set-cookie":
            response.headers.append(name, value)
    return response


async def answer_error(request: Request, error: GongchuangError) -> Response:
    """How the exception handlers answer: a refused form on its own page where it can be,
    else problem+json (API) or the error page."""
    return await form_error_page(request, error) or error_response(request, error)


def error_response(request: Request, error: GongchuangError) -> Response:
    if wants_json(request):
        return problem(request, error)
    if isinstance(error, AuthenticationRequired):
        return redirect(f"/login?next={quote(request.url.path)}")
    return render(
        request,
        "error.html",
        {
            "error": error,
            # A field's message is a message id where a service gave one: said in the reader's
            # language (gettext leaves any other text as it is).
            "errors": [
                {**e, "message": gettext(_text(e["message"]))} if e.get("message") else e
                for e in error.errors
            ],
            "message": error.detail(),
            "title": gettext(error.title),
            "back_url": same_site_referer(request),
        },
        status_code=error.status_code,
    )


def same_site_referer(request: Request) -> str:
    """Where "Go back" leads: the page the form was on, if it was ours (no script needed,
    which the Content-Security-Policy would block anyway)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    path = referer.path or "/"
    return path + (f"?{referer.query}" if referer.query else "") if path.startswith("/") else "/"
