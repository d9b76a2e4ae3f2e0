"""The core's REST API under /api/v1. Routes parse, call one service function, and shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from gongchuang.core import (
    audit,
    auth,
    credentials,
    files,
    live,
    notifications,
    organisations,
    people,
    push,
    regions,
    webhooks,
)
from gongchuang.core.errors import AuthenticationRequired, NotFound
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import ApiToken, AuditEntry, Membership, Organisation, Region
from gongchuang.core.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor, paginate
from gongchuang.core.permissions import CorePerm, Principal
from gongchuang.core.schemas import (
    AuditEntryOut,
    ChainReportOut,
    CredentialIn,
    CredentialOut,
    FileOut,
    MembershipIn,
    MembershipOut,
    MeOut,
    MyMembershipOut,
    NotificationOut,
    OrganisationIn,
    OrganisationOut,
    PersonOut,
    Problem,
    PushPublicKey,
    PushSubscriptionIn,
    RegionOut,
    RegistrationIn,
    RevokeIn,
    RolesIn,
    TokenCreated,
    TokenOut,
    TokenRequest,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookIn,
    WebhookOut,
)
from gongchuang.core.web import (
    BigId,
    DbSession,
    Id,
    LoggedIn,
    Require,
    client_source,
    current_principal,
    get_database,
    problem,
)

PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 401, 403, 404, 409, 413, 415, 422, 429)
}
router = APIRouter(prefix="/api/v1", responses=PROBLEMS)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]

Cursor = Annotated[str | None, Query(max_length=200)]


def organisation_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=org.id,
        name=org.name,
        kind=org.kind,
        region_id=org.region_id,
        region_code=org.region.code,
        region_name=org.region.name,
        parent_id=org.parent_id,
        description=org.description,
    )


# --- regions --------------------------------------------------------------------------------


@router.get("/regions", tags=["regions"], summary="List regions, optionally under a parent")
def list_regions(
    session: DbSession,
    parent: Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$")] = None,
    level: Annotated[str | None, Query(pattern=r"^(province|city|county|town|village)$")] = None,
    q: Annotated[str | None, Query(max_length=50, description="Name contains")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RegionOut]:
    query = select(Region)
    if parent is not None:
        query = query.where(Region.parent_id == regions.get_region(session, parent).id)
    if level is not None:
        query = query.where(Region.level == level)
    if q:
        query = query.where(Region.name.contains(q.strip(), autoescape=True))
    rows, next_cursor = paginate(session, query, Region.id, cursor, limit)
    return Page[RegionOut](
        items=[RegionOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/regions/{code}", tags=["regions"])
def get_region(
    code: Annotated[str, Path(pattern=r"^\d{6}(\d{6})?$")], session: DbSession
) -> RegionOut:
    return RegionOut.model_validate(regions.get_region(session, code))


# --- organisations --------------------------------------------------------------------------


@router.get("/organisations", tags=["organisations"])
def list_organisations(
    session: DbSession,
    region: Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$")] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=50, description="Name contains")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[OrganisationOut]:
    root = regions.get_region(session, region) if region is not None else None
    query = organisations.organisations_query(region=root, kind=kind, search=q)
    rows, next_cursor = paginate(session, query, Organisation.id, cursor, limit)
    return Page[OrganisationOut](items=[organisation_out(o) for o in rows], next_cursor=next_cursor)


@router.post("/organisations", tags=["organisations"], status_code=201)
def create_organisation(
    body: OrganisationIn,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
) -> OrganisationOut:
    parent = organisations.get_organisation(session, body.parent_id) if body.parent_id else None
    org = organisations.create_child_or_platform_organisation(
        session,
        principal,
        name=body.name,
        kind=body.kind,
        region=regions.get_region(session, body.region_code),
        parent=parent,
        description=body.description,
    )
    return organisation_out(organisations.get_organisation(session, org.id))


@router.get("/organisations/{organisation_id}", tags=["organisations"])
def get_organisation(organisation_id: Id, session: DbSession) -> OrganisationOut:
    return organisation_out(organisations.get_organisation(session, organisation_id))


def _membership_out(m: Membership, view: people.PersonView) -> MembershipOut:
    return MembershipOut(
        id=m.id,
        organisation_id=m.organisation_id,
        roles=m.roles,
        title=m.title,
        joined_at=m.joined_at,
        person=PersonOut(**view.__dict__),
    )


@router.get("/organisations/{organisation_id}/members", tags=["organisations"])
def list_members(
    organisation_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_VIEW_MEMBERS))],
    q: Annotated[str | None, Query(max_length=50, description="Name or phone contains")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MembershipOut]:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_VIEW_MEMBERS
    )
    rows, next_cursor = paginate(
        session, organisations.members_query(org, q), Membership.id, cursor, limit
    )
    views = people.views_within(session, principal, org, [m.person for m in rows])
    return Page[MembershipOut](
        items=[_membership_out(m, view) for m, view in zip(rows, views, strict=True)],
        next_cursor=next_cursor,
    )


@router.post("/organisations/{organisation_id}/members", tags=["organisations"], status_code=201)
def add_member(
    organisation_id: Id,
    body: MembershipIn,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
) -> MembershipOut:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_MEMBERS
    )
    membership = organisations.add_member(
        session,
        principal,
        org,
        phone=body.phone,
        roles=body.roles,
        title=body.title,
        register_name=body.name,
    )
    session.refresh(membership, ["person"])
    return _membership_out(
        membership, people.views_within(session, principal, org, [membership.person])[0]
    )


@router.put(
    "/organisations/{organisation_id}/members/{membership_id}/roles", tags=["organisations"]
)
def set_member_roles(
    organisation_id: Id,
    membership_id: Id,
    body: RolesIn,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
) -> MembershipOut:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_MEMBERS
    )
    membership = organisations.set_roles(session, principal, org, membership_id, body.roles)
    session.refresh(membership, ["person"])
    return _membership_out(
        membership, people.views_within(session, principal, org, [membership.person])[0]
    )


@router.delete(
    "/organisations/{organisation_id}/members/{membership_id}",
    tags=["organisations"],
    status_code=204,
)
def remove_member(
    organisation_id: Id,
    membership_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_MEMBERS))],
) -> Response:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_MEMBERS
    )
    organisations.remove_member(session, principal, org, membership_id)
    return Response(status_code=204)


@router.get("/organisations/{organisation_id}/webhooks", tags=["webhooks"])
def list_webhooks(
    organisation_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_WEBHOOKS))],
) -> list[WebhookOut]:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_WEBHOOKS
    )
    return [WebhookOut.model_validate(e) for e in webhooks.endpoints_for(session, org)]


@router.post("/organisations/{organisation_id}/webhooks", tags=["webhooks"], status_code=201)
def create_webhook(
    organisation_id: Id,
    body: WebhookIn,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_WEBHOOKS))],
) -> WebhookCreated:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_WEBHOOKS
    )
    endpoint = webhooks.create_endpoint(session, principal, org, url=body.url, topics=body.topics)
    return WebhookCreated(
        **WebhookOut.model_validate(endpoint).model_dump(), secret=endpoint.secret
    )


@router.get("/organisations/{organisation_id}/webhooks/{endpoint_id}/deliveries", tags=["webhooks"])
def list_webhook_deliveries(
    organisation_id: Id,
    endpoint_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.ORG_MANAGE_WEBHOOKS))],
) -> list[WebhookDeliveryOut]:
    org = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.ORG_MANAGE_WEBHOOKS
    )
    endpoint = webhooks.get_endpoint(session, org, endpoint_id)
    return [
        WebhookDeliveryOut.model_validate(d) for d in webhooks.deliveries_for(session, endpoint)
    ]


@router.post("/organisations/{organisation_id}/credentials", tags=["credentials"], status_code=201)
def issue_credential(
    organisation_id: Id,
    body: CredentialIn,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.CREDENTIAL_ISSUE))],
) -> CredentialOut:
    issuer = organisations.get_organisation_for(
        session, principal, organisation_id, CorePerm.CREDENTIAL_ISSUE
    )
    person = people.get_person(session, body.person_id)
    credential = credentials.issue_credential(
        session,
        principal,
        issuer,
        person,
        kind=body.kind,
        title=body.title,
        certificate_no=body.certificate_no,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        evidence_file_id=body.evidence_file_id,
    )
    return CredentialOut.model_validate(credential)


@router.post("/credentials/{credential_id}/revoke", tags=["credentials"])
def revoke_credential(
    credential_id: Id,
    body: RevokeIn,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.CREDENTIAL_ISSUE))],
) -> CredentialOut:
    return CredentialOut.model_validate(
        credentials.revoke_credential(session, principal, credential_id, body.reason)
    )


# --- people ---------------------------------------------------------------------------------


@router.post(
    "/people",
    tags=["people"],
    status_code=201,
    summary="Register yourself (phone, password, consent to the privacy policy)",
)
def register(body: RegistrationIn, session: DbSession) -> PersonOut:
    home = regions.get_region(session, body.home_region_code) if body.home_region_code else None
    person = people.register_self(
        session,
        name=body.name,
        phone=body.phone,
        password=body.password,
        accept_privacy_policy=body.accept_privacy_policy,
        resident_id=body.resident_id,
        home_region_id=home.id if home else None,
    )
    return PersonOut(
        **people.view_person(session, auth.principal_for(person, via="self"), person).__dict__
    )


@router.get("/people/{person_id}", tags=["people"])
def get_person(person_id: Id, session: DbSession, principal: LoggedIn) -> PersonOut:
    person = people.get_person_for(session, principal, person_id)
    return PersonOut(**people.view_person(session, principal, person).__dict__)


@router.get("/people/{person_id}/credentials", tags=["credentials"])
def list_credentials(person_id: Id, session: DbSession, principal: LoggedIn) -> list[CredentialOut]:
    person = people.get_person(session, person_id)
    if not people.can_see_contact(session, principal, person):
        raise NotFound()
    return [CredentialOut.model_validate(c) for c in credentials.credentials_of(session, person.id)]


def _person_id(principal: Principal) -> int:
    """The signed-in caller's person: `LoggedIn` lets no one through without one."""
    if principal.person_id is None:
        raise AuthenticationRequired()
    return principal.person_id


@router.get("/me", tags=["me"])
def me(session: DbSession, principal: LoggedIn) -> MeOut:
    person = people.get_person(session, _person_id(principal))
    return MeOut(
        id=person.id,
        name=person.name,
        phone=person.phone,
        resident_id=person.id_number_masked,
        is_platform_admin=person.is_platform_admin,
        memberships=[
            MyMembershipOut(
                organisation_id=m.organisation_id,
                organisation_name=m.organisation.name,
                roles=m.roles,
            )
            for m in organisations.memberships_of(session, person.id)
        ],
        consents={k: v[0] for k, v in people.current_consents(session, person.id).items()},
    )


@router.get("/me/export", tags=["me"], summary="Everything held about me (PIPL access right)")
def export_me(session: DbSession, principal: LoggedIn) -> dict[str, Any]:
    return people.export_personal_data(session, people.get_person(session, _person_id(principal)))


# --- tokens ---------------------------------------------------------------------------------


@router.post(
    "/auth/tokens",
    tags=["auth"],
    status_code=201,
    response_model=TokenCreated,
    summary="Exchange a phone and password for a scoped API token",
)
def create_token(body: TokenRequest, request: Request, session: DbSession) -> Any:
    outcome = auth.login(
        session,
        body.phone,
        body.password,
        request.headers.get("user-agent", ""),
        source=client_source(request),
    )
    if outcome.error is not None or outcome.person is None:
        # Answered, not raised: the failure count must be committed with this request.
        answer = problem(request, outcome.error or AuthenticationRequired())
        if outcome.retry_after_s:
            answer.headers["Retry-After"] = str(outcome.retry_after_s)
        return answer
    auth.logout(session, outcome.session_token)  # a token request opens no browser session
    principal = auth.principal_for(outcome.person, via="password")
    token, raw = auth.create_api_token(
        session,
        principal,
        outcome.person,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
    )
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=raw)


@router.get("/me/tokens", tags=["auth"])
def list_tokens(session: DbSession, principal: LoggedIn) -> list[TokenOut]:
    rows = session.scalars(
        select(ApiToken)
        .where(ApiToken.person_id == principal.person_id)
        .order_by(ApiToken.id.desc())
    )
    return [TokenOut.model_validate(t) for t in rows]


@router.delete("/me/tokens/{token_id}", tags=["auth"], status_code=204)
def revoke_token(token_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    auth.revoke_api_token(session, principal, token_id)
    return Response(status_code=204)


# --- notifications --------------------------------------------------------------------------


@router.get("/me/notifications", tags=["notifications"])
def list_notifications(
    session: DbSession,
    principal: LoggedIn,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[NotificationOut]:
    # Newest first, so the cursor counts down.
    rows = notifications.inbox(
        session, _person_id(principal), limit=limit + 1, before_id=decode_cursor(cursor)
    )
    items = []
    for n in rows[:limit]:
        title, body = notifications.render(n)
        items.append(
            NotificationOut(
                id=n.id,
                kind=n.kind,
                title=title,
                body=body,
                link=n.link,
                created_at=n.created_at,
                read_at=n.read_at,
            )
        )
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[NotificationOut](items=items, next_cursor=next_cursor)


@router.post("/me/notifications/{notification_id}/read", tags=["notifications"], status_code=204)
def mark_read(notification_id: BigId, session: DbSession, principal: LoggedIn) -> Response:
    notifications.mark_read(session, _person_id(principal), notification_id)
    return Response(status_code=204)


def live_stream(request: Request, channel: str) -> StreamingResponse:
    """A Server-Sent Events response for one channel. The subscription is made before the
    headers go out: the browser's `open` means nothing announced from then on is missed. A
    browser reconnecting after a dropped stream sends the last id it saw (Last-Event-ID) and
    is first sent what it missed meanwhile, from the live event log."""
    queue = live.broker.subscribe(channel)
    return StreamingResponse(
        _sse_events(request, channel, queue, _last_event_id(request)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _last_event_id(request: Request) -> int | None:
    value = request.headers.get("last-event-id", "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _sse(message: live.LiveMessage) -> str:
    return f"id: {message.id}\nevent: {message.event}\ndata: {message.data}\n\n"


async def _sse_events(
    request: Request, channel: str, queue: asyncio.Queue[live.LiveMessage], after: int | None
) -> AsyncIterator[str]:
    """The events of a subscribed channel, with a heartbeat so proxies keep it open."""
    try:
        yield "retry: 3000\n: connected\n\n"
        replayed: set[int] = set()
        if after is not None:
            # Read after subscribing: an update committed meanwhile is in the log or the
            # queue (or both: it is sent once).
            missed = await run_in_threadpool(live.replay, get_database(request), channel, after)
            for message in missed:
                replayed.add(message.id)
                yield _sse(message)
        while not await request.is_disconnected():
            try:
                message = await asyncio.wait_for(queue.get(), timeout=15)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if message.id not in replayed:
                yield _sse(message)
    finally:
        live.broker.unsubscribe(channel, queue)


@router.get(
    "/me/notifications/stream",
    tags=["notifications"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
    summary="Live notifications (Server-Sent Events) from whichever worker serves you",
)
async def notification_stream(request: Request) -> StreamingResponse:
    def who() -> Principal:
        # Off the event loop: a database wait here must not stall every other request.
        with get_database(request).transaction(write=False) as session:
            return current_principal(request, session)

    principal = await run_in_threadpool(who)
    if not principal.is_authenticated:
        raise AuthenticationRequired()
    return live_stream(request, f"person:{principal.person_id}")


# --- web push ---------------------------------------------------------------------------


@router.get("/push/public-key", tags=["notifications"])
def push_public_key() -> PushPublicKey:
    return PushPublicKey(public_key=push.public_key())


@router.post("/me/push-subscriptions", tags=["notifications"], status_code=204)
def add_push_subscription(
    body: PushSubscriptionIn, request: Request, session: DbSession, principal: LoggedIn
) -> Response:
    push.subscribe(
        session,
        _person_id(principal),
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        user_agent=request.headers.get("user-agent", ""),
    )
    return Response(status_code=204)


@router.delete("/me/push-subscriptions", tags=["notifications"], status_code=204)
def remove_push_subscription(
    endpoint: Annotated[str, Query(min_length=1, max_length=1000)],
    session: DbSession,
    principal: LoggedIn,
) -> Response:
    push.unsubscribe(session, _person_id(principal), endpoint)
    return Response(status_code=204)


# --- files ----------------------------------------------------------------------------------


@router.post("/files", tags=["files"], status_code=201, max_body_size=UPLOAD_BODY_BYTES)
def upload_file(
    file: Annotated[UploadFile, File()], session: DbSession, principal: LoggedIn
) -> FileOut:
    data = files.read_upload(file.file)
    stored = files.save_upload(session, principal, filename=file.filename or "upload", data=data)
    return FileOut.model_validate(stored)


@router.get(
    "/files/{file_id}",
    tags=["files"],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_file(file_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    stored, data = files.get_file_for(session, principal, file_id)
    return Response(
        data,
        media_type=stored.content_type,
        headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "attachment"},
    )


# --- audit ----------------------------------------------------------------------------------


@router.get("/audit", tags=["audit"])
def list_audit(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.AUDIT_VIEW, platform=True))],
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AuditEntryOut]:
    query = select(AuditEntry)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    rows, next_cursor = paginate(session, query, AuditEntry.id, cursor, limit)
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/audit/verify", tags=["audit"])
def verify_audit(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(CorePerm.AUDIT_VIEW, platform=True))],
) -> ChainReportOut:
    report = audit.verify_chain(session)
    return ChainReportOut(
        ok=report.ok,
        checked=report.checked,
        broken_entry_id=report.broken_entry_id,
        reason=report.reason,
        waiting=report.waiting,
    )
