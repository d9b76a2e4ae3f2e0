"""HTML pages of the web shell. Routes parse, call one service function, and render."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from gongchuang.config import get_settings
from gongchuang.core import (
    audit,
    auth,
    credentials,
    events,
    files,
    notifications,
    organisations,
    people,
    regions,
    spreadsheets,
    throttle,
    webhooks,
)
from gongchuang.core.clock import local_midnight
from gongchuang.core.errors import AuthenticationRequired
from gongchuang.core.i18n import N_, SUPPORTED_LOCALES, current_locale, gettext
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.middleware import LANGUAGE_COOKIE
from gongchuang.core.models import ApiToken, Membership, Organisation
from gongchuang.core.organisations import ORGANISATION_KIND_LABELS
from gongchuang.core.pagination import paginate
from gongchuang.core.permissions import ROLES, CorePerm, Principal, has_permission
from gongchuang.core.stats import platform_counts
from gongchuang.core.web import (
    LARGE_TEXT_COOKIE,
    BigId,
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    Id,
    LoggedIn,
    Require,
    client_source,
    cookie_secure,
    personal_blocks,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
STATIC_JS = Path(__file__).resolve().parent.parent / "static" / "js"
YEAR = 365 * 24 * 3600


def start_session(request: Request, response: Response, session_token: str) -> Response:
    response.set_cookie(
        auth.SESSION_COOKIE,
        session_token,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        max_age=get_settings().session_days * 24 * 3600,
    )
    return response


def xlsx_response(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


def safe_next(value: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing tool."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession, principal: CurrentPrincipal) -> HTMLResponse:
    """A guest sees what the platform is; a signed-in person, what concerns them now (each
    module's block that applies, urgent first) and their organisations."""
    if not principal.is_authenticated:
        return render(request, "home.html", {"stats": platform_counts(session)})
    return render(
        request,
        "home.html",
        {
            "blocks": personal_blocks(session, principal),
            "my_memberships": organisations.memberships_of(session, principal.person_id or 0),
            "kind_labels": ORGANISATION_KIND_LABELS,
        },
    )


# --- preferences ----------------------------------------------------------------------------


@router.post("/prefs/language", dependencies=[CsrfChecked])
def set_language(
    request: Request, locale: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> RedirectResponse:
    response = redirect(safe_next(next))
    if locale in SUPPORTED_LOCALES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            locale,
            max_age=YEAR,
            samesite="lax",
            secure=cookie_secure(request),
            httponly=True,
        )
    return response


@router.post("/prefs/large-text", dependencies=[CsrfChecked])
def toggle_large_text(request: Request, next: Annotated[str, Form()] = "/") -> RedirectResponse:
    response = redirect(safe_next(next))
    on = request.cookies.get(LARGE_TEXT_COOKIE) != "1"
    response.set_cookie(
        LARGE_TEXT_COOKIE,
        "1" if on else "0",
        max_age=YEAR,
        samesite="lax",
        secure=cookie_secure(request),
        httponly=True,
    )
    return response


# --- login ----------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    principal: CurrentPrincipal,
    next: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    if principal.is_authenticated:
        return redirect(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "phone": ""})


@router.post("/login", dependencies=[CsrfChecked], response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: DbSession,
    phone: Annotated[str, Form(max_length=30)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=300)] = "/",
) -> Response:
    outcome = auth.login(
        session,
        phone,
        password,
        request.headers.get("user-agent", ""),
        source=client_source(request),
        known_browser_cookie=request.cookies.get(throttle.KNOWN_BROWSER_COOKIE),
    )
    if outcome.error is not None or outcome.session_token is None:
        error = outcome.error
        refused = render(
            request,
            "login.html",
            {"next": safe_next(next), "phone": phone, "error": error.detail() if error else ""},
            status_code=error.status_code if error else 400,
        )
        if outcome.retry_after_s:
            refused.headers["Retry-After"] = str(outcome.retry_after_s)
        return refused
    response = start_session(request, redirect(safe_next(next)), outcome.session_token)
    if outcome.known_browser_cookie:
        response.set_cookie(
            throttle.KNOWN_BROWSER_COOKIE,
            outcome.known_browser_cookie,
            max_age=YEAR,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(request),
        )
    return response


LEGAL_DOCUMENTS = {"privacy": N_("Privacy notice"), "terms": N_("Terms of use")}


@router.get("/privacy", response_class=HTMLResponse)
@router.get("/terms", response_class=HTMLResponse)
def legal_document(request: Request) -> HTMLResponse:
    """The privacy notice and the terms registration asks to accept, in the reader's language
    (each a document of its own per language, not a string per sentence)."""
    name = request.url.path.strip("/")
    locale = "en" if current_locale.get() == "en" else "zh_CN"
    settings = get_settings()
    return render(
        request,
        "legal.html",
        {
            "title": gettext(LEGAL_DOCUMENTS[name]),
            "document": f"legal/{name}_{locale}.html",
            "operator_name": settings.operator_name,
            "operator_contact": settings.operator_contact,
        },
    )


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, principal: CurrentPrincipal) -> Response:
    if principal.is_authenticated:
        return redirect("/me")
    return render(request, "register.html")


@router.post("/register", dependencies=[CsrfChecked], response_class=HTMLResponse)
def register_submit(
    request: Request,
    session: DbSession,
    name: Annotated[str, Form(max_length=100)],
    phone: Annotated[str, Form(max_length=30)],
    password: Annotated[str, Form(max_length=200)],
    resident_id: Annotated[str, Form(max_length=18)] = "",
    accept_privacy_policy: Annotated[bool, Form()] = False,
) -> Response:
    person = people.register_self(
        session,
        name=name,
        phone=phone,
        password=password,
        accept_privacy_policy=accept_privacy_policy,
        resident_id=resident_id,
    )
    token = auth.open_session(session, person, request.headers.get("user-agent", ""))
    return start_session(request, redirect("/me"), token)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: DbSession) -> RedirectResponse:
    auth.logout(session, request.cookies.get(auth.SESSION_COOKIE))
    response = redirect("/")
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


# --- regions --------------------------------------------------------------------------------


@router.get("/regions", response_class=HTMLResponse)
def region_index(request: Request, session: DbSession, principal: CurrentPrincipal) -> HTMLResponse:
    return render(
        request,
        "regions.html",
        {
            "region": None,
            "trail": [],
            "children": regions.children(session, None),
            "organisations": [],
        },
    )


@router.get("/regions/{code}", response_class=HTMLResponse)
def region_page(
    code: str, request: Request, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    region = regions.get_region(session, code)
    return render(
        request,
        "regions.html",
        {
            "region": region,
            "trail": regions.ancestors(session, region),
            "children": regions.children(session, region),
            "organisations": organisations.list_organisations(session, region=region)[:200],
            "kind_labels": ORGANISATION_KIND_LABELS,
        },
    )


# --- organisations --------------------------------------------------------------------------


@router.get("/orgs", response_class=HTMLResponse)
def organisation_index(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=50)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    query = organisations.organisations_query(kind=kind or None, search=q)
    rows, next_cursor = paginate(session, query, Organisation.id, cursor, 100)
    return render(
        request,
        "organisations.html",
        {
            "organisations": rows,
            "next_cursor": next_cursor,
            "kind": kind or "",
            "q": q or "",
            "kind_labels": ORGANISATION_KIND_LABELS,
            "can_create": principal.is_platform_admin or bool(_parent_choices(session, principal)),
        },
    )


def _parent_choices(session: DbSession, principal: Principal) -> list[Organisation]:
    return organisations.organisations_with(session, principal, CorePerm.ORG_MANAGE_MEMBERS)


@router.get("/orgs/new", response_class=HTMLResponse)
def new_organisation_form(
    request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    return render(
        request,
        "organisation_new.html",
        {
            "kind_labels": ORGANISATION_KIND_LABELS,
            "parents": _parent_choices(session, principal),
        },
    )


@router.post("/orgs/new", dependencies=[CsrfChecked])
def create_organisation(
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(max_length=32)],
    region_code: Annotated[str, Form(pattern=r"^\d{6}(\d{6})?$")],
    parent_id: Annotated[str, Form(max_length=12)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    parent = (
        organisations.get_organisation(session, int(parent_id)) if parent_id.isdigit() else None
    )
    org = organisations.create_child_or_platform_organisation(
        session,
        principal,
        name=name,
        kind=kind,
        region=regions.get_region(session, region_code),
        parent=parent,
        description=description,
    )
    return redirect(f"/orgs/{org.id}")


@router.get("/orgs/{organisation_id}", response_class=HTMLResponse)
def organisation_page(
    organisation_id: Id,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    q: Annotated[str | None, Query(max_length=50)] = None,
) -> HTMLResponse:
    org = organisations.get_organisation(session, organisation_id)
    can_view = has_permission(session, principal, CorePerm.ORG_VIEW_MEMBERS, org)
    can_manage = has_permission(session, principal, CorePerm.ORG_MANAGE_MEMBERS, org)
    can_issue = has_permission(session, principal, CorePerm.CREDENTIAL_ISSUE, org)
    can_webhooks = has_permission(session, principal, CorePerm.ORG_MANAGE_WEBHOOKS, org)
    members: list[tuple[Membership, people.PersonView]] = []
    if can_view:
        rows = organisations.list_members(session, org, q)
        members = list(
            zip(
                rows,
                people.views_within(session, principal, org, [m.person for m in rows]),
                strict=True,
            )
        )
    imported = {k: request.query_params.get(k) for k in ("added", "registered", "unchanged")}
    context = {
        "imported": imported if imported["added"] is not None else None,
        "org": org,
        "members": members,
        "q": q or "",
        "can_view": can_view,
        "can_manage": can_manage,
        "can_issue": can_issue,
        "can_webhooks": can_webhooks,
        "issued": credentials.issued_by(session, org.id) if can_issue else [],
        "credential_kinds": credentials.CREDENTIAL_KINDS,
        "roles": ROLES,
        "kind_labels": ORGANISATION_KIND_LABELS,
        "trail": [*regions.ancestors(session, org.region), org.region],
    }
    if request.headers.get("hx-target") == "member-rows":
        return render(request, "_member_rows.html", context)
    return render(request, "organisation.html", context)


@router.post(
    "/orgs/{organisation_id}/members/import",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def import_members(
    organisation_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
    file: Annotated[UploadFile, File()],
) -> RedirectResponse:
    org = _org_for_manager(session, principal, organisation_id)
    data = files.read_upload(file.file)
    result = organisations.import_members(session, principal, org, data, file.filename or "")
    return redirect(
        f"/orgs/{org.id}?added={result.added}&registered={result.registered}"
        f"&unchanged={result.unchanged}#members"
    )


@router.get("/orgs/{organisation_id}/members-template.xlsx")
def member_template(organisation_id: Id) -> Response:
    """A sample sheet in the reader's language: headers and a role the importer reads in
    either language (its own aliases), a sample person in words."""
    chinese = current_locale.get().startswith("zh")
    headers = [names[1] if chinese else names[0] for names in organisations.MEMBER_COLUMNS.values()]
    member = "member"
    if chinese:
        member = next(a for a, code in organisations.ROLE_ALIASES.items() if code == member)
    sample: list[object] = [
        gettext(N_("Zhang San")),
        "13800000000",
        gettext(N_("Villager group leader")),
        member,
    ]
    data = spreadsheets.workbook_bytes(headers, [sample], gettext(N_("Members")))
    return xlsx_response(data, "members-template.xlsx")


@router.get("/orgs/{organisation_id}/members.xlsx")
def export_members(
    organisation_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_VIEW_MEMBERS))],
) -> Response:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_VIEW_MEMBERS
    )
    data = organisations.members_workbook(session, principal, org)
    return xlsx_response(data, f"{org.name}-members.xlsx")


@router.get("/orgs/{organisation_id}/webhooks", response_class=HTMLResponse)
def webhook_page(
    organisation_id: Id,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_WEBHOOKS))],
) -> HTMLResponse:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_WEBHOOKS
    )
    endpoints = [
        (e, webhooks.deliveries_for(session, e, limit=20))
        for e in webhooks.endpoints_for(session, org)
    ]
    return render(
        request,
        "webhooks.html",
        {
            "org": org,
            "endpoints": endpoints,
            "topics": events.TOPICS,
            "delivery_status": webhooks.DELIVERY_STATUS,
        },
    )


@router.post(
    "/orgs/{organisation_id}/webhooks", dependencies=[CsrfChecked], response_class=HTMLResponse
)
def create_webhook(
    organisation_id: Id,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_WEBHOOKS))],
    url: Annotated[str, Form(max_length=500)],
    topics: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_WEBHOOKS
    )
    endpoint = webhooks.create_endpoint(session, principal, org, url=url, topics=topics or [])
    return render(request, "webhook_created.html", {"org": org, "endpoint": endpoint})


@router.post("/orgs/{organisation_id}/webhooks/{endpoint_id}/active", dependencies=[CsrfChecked])
def toggle_webhook(
    organisation_id: Id,
    endpoint_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_WEBHOOKS))],
    active: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_WEBHOOKS
    )
    webhooks.set_endpoint_active(session, principal, org, endpoint_id, active)
    return redirect(f"/orgs/{org.id}/webhooks")


def _org_for_manager(
    session: DbSession, principal: Principal, organisation_id: int
) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_MEMBERS
    )


@router.post("/orgs/{organisation_id}/members", dependencies=[CsrfChecked])
def add_member(
    organisation_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
    phone: Annotated[str, Form(max_length=30)],
    roles: Annotated[list[str], Form()],
    title: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    org = _org_for_manager(session, principal, organisation_id)
    organisations.add_member(
        session, principal, org, phone=phone, roles=roles, title=title, register_name=name or None
    )
    return redirect(f"/orgs/{org.id}#members")


@router.post("/orgs/{organisation_id}/credentials", dependencies=[CsrfChecked])
def issue_credential(
    organisation_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.CREDENTIAL_ISSUE))],
    phone: Annotated[str, Form(max_length=30)],
    kind: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form(max_length=200)],
    certificate_no: Annotated[str, Form(max_length=64)],
    valid_from: Annotated[date, Form()],
    valid_until: Annotated[date | None, Form()] = None,
) -> RedirectResponse:
    issuer = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.CREDENTIAL_ISSUE
    )
    person = people.get_person_by_phone(session, phone)
    credentials.issue_credential(
        session,
        principal,
        issuer,
        person,
        kind=kind,
        title=title,
        certificate_no=certificate_no,
        valid_from=local_midnight(valid_from),
        valid_until=local_midnight(valid_until) if valid_until else None,
    )
    return redirect(f"/orgs/{issuer.id}#credentials")


@router.post("/orgs/{organisation_id}/members/{membership_id}/roles", dependencies=[CsrfChecked])
def set_roles(
    organisation_id: Id,
    membership_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
    roles: Annotated[list[str], Form()],
) -> RedirectResponse:
    org = _org_for_manager(session, principal, organisation_id)
    organisations.set_roles(session, principal, org, membership_id, roles)
    return redirect(f"/orgs/{org.id}#members")


@router.post("/orgs/{organisation_id}/members/{membership_id}/remove", dependencies=[CsrfChecked])
def remove_member(
    organisation_id: Id,
    membership_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
) -> RedirectResponse:
    org = _org_for_manager(session, principal, organisation_id)
    organisations.remove_member(session, principal, org, membership_id)
    return redirect(f"/orgs/{org.id}#members")


# --- profile --------------------------------------------------------------------------------


def _person_id(principal: Principal) -> int:
    """The signed-in caller's person: `LoggedIn` lets no one through without one."""
    if principal.person_id is None:
        raise AuthenticationRequired()
    return principal.person_id


@router.get("/me", response_class=HTMLResponse)
def profile(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    person = people.get_person(session, _person_id(principal))
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.person_id == person.id).order_by(ApiToken.id.desc())
    ).all()
    return render(
        request,
        "profile.html",
        {
            "person": person,
            "consents": people.current_consents(session, person.id),
            "purposes": people.CONSENT_PURPOSES,
            "memberships": organisations.memberships_of(session, person.id),
            "credentials": credentials.credentials_of(session, person.id),
            "credential_kinds": credentials.CREDENTIAL_KINDS,
            "tokens": tokens,
            "new_token": request.query_params.get("new_token"),
            "roles": ROLES,
        },
    )


@router.post("/me/profile", dependencies=[CsrfChecked])
def update_profile(
    session: DbSession, principal: LoggedIn, name: Annotated[str, Form(max_length=100)]
) -> RedirectResponse:
    people.update_profile(
        session, principal, people.get_person(session, _person_id(principal)), name=name
    )
    return redirect("/me")


@router.post("/me/consents", dependencies=[CsrfChecked])
def update_consents(
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    granted: Annotated[list[str] | None, Form()] = None,
) -> RedirectResponse:
    person = people.get_person(session, _person_id(principal))
    current = people.current_consents(session, person.id)
    for purpose in people.CONSENT_PURPOSES:
        want = purpose in (granted or [])
        if current.get(purpose, (False, None))[0] != want:
            people.set_consent(session, principal, person, purpose, want)
    return redirect("/me#consents")


@router.post("/me/password", dependencies=[CsrfChecked])
def change_password(
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    current_password: Annotated[str, Form(max_length=200)],
    new_password: Annotated[str, Form(max_length=200)],
) -> RedirectResponse:
    people.change_password(
        session,
        principal,
        people.get_person(session, _person_id(principal)),
        current_password,
        new_password,
        keep_session=request.cookies.get(auth.SESSION_COOKIE),
    )
    return redirect("/me?password=changed")


@router.get("/me/export.json")
def export_my_data(session: DbSession, principal: LoggedIn) -> Response:
    data = people.export_personal_data(session, people.get_person(session, _person_id(principal)))
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="gongchuang-my-data.json"'},
    )


@router.post("/me/close", dependencies=[CsrfChecked])
def close_account(
    session: DbSession,
    principal: LoggedIn,
    password: Annotated[str, Form(max_length=200)],
) -> RedirectResponse:
    person = people.get_person(session, _person_id(principal))
    people.confirm_password(person, password)
    people.erase_person(session, principal, person)
    response = redirect("/?account=closed")
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


@router.post("/me/tokens", dependencies=[CsrfChecked], response_class=HTMLResponse)
def create_token(
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form(max_length=100)],
    # An unticked checkbox is simply absent from the form.
    read_only: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    person = people.get_person(session, _person_id(principal))
    scopes = auth.scopes_for(session, principal, read_only=read_only)
    _token, raw = auth.create_api_token(session, principal, person, name=name, scopes=scopes)
    return render(request, "token_created.html", {"token": raw, "scopes": scopes})


@router.post("/me/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke_token(token_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    auth.revoke_api_token(session, principal, token_id)
    return redirect("/me#tokens")


@router.get("/sw.js")
def service_worker() -> FileResponse:
    """Served from the root so that the worker's scope covers the whole site."""
    return FileResponse(
        STATIC_JS / "sw.js",
        media_type="application/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


# --- notifications --------------------------------------------------------------------------


INBOX_PAGE = 50


def _inbox_context(
    session: DbSession, principal: Principal, before: int | None = None
) -> dict[str, object]:
    person_id = _person_id(principal)
    items = notifications.inbox(session, person_id, limit=INBOX_PAGE + 1, before_id=before)
    return {
        "items": [(n, *notifications.render(n)) for n in items[:INBOX_PAGE]],
        "older_than": items[INBOX_PAGE - 1].id if len(items) > INBOX_PAGE else None,
        "unread": notifications.unread_count(session, person_id),
    }


OlderThan = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


@router.get("/notifications", response_class=HTMLResponse)
def inbox(
    request: Request, session: DbSession, principal: LoggedIn, before: OlderThan = None
) -> HTMLResponse:
    return render(request, "notifications.html", _inbox_context(session, principal, before))


@router.get("/notifications/list", response_class=HTMLResponse)
def inbox_fragment(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    return render(request, "_notification_list.html", _inbox_context(session, principal))


@router.post("/notifications/read", dependencies=[CsrfChecked])
def mark_all_read(session: DbSession, principal: LoggedIn) -> RedirectResponse:
    notifications.mark_read(session, _person_id(principal))
    return redirect("/notifications")


@router.post("/notifications/{notification_id}/read", dependencies=[CsrfChecked])
def mark_read(notification_id: BigId, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    notifications.mark_read(session, _person_id(principal), notification_id)
    return redirect("/notifications")


# --- audit ----------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.AUDIT_VIEW, platform=True))],
) -> HTMLResponse:
    entries = audit.latest(session, 100)
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "report": audit.verify_chain(session),
            "actor_in_words": audit.actor_in_words,
        },
    )
