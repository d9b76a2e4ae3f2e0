"""Outgoing webhooks: signed with HMAC-SHA256, retried with backoff, every attempt recorded.

Receivers check `X-Gongchuang-Signature: t=<unix>,v1=<hex>` where hex is
HMAC-SHA256(secret, "<t>.<body>"), reject stale timestamps, and de-duplicate on
`X-Gongchuang-Delivery` (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta
from urllib.parse import urlparse

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, events, jobs
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import AuthenticationRequired, Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_, Phrase
from gongchuang.core.models import (
    Job,
    Organisation,
    OutboxMessage,
    SeenSignature,
    WebhookDelivery,
    WebhookEndpoint,
)
from gongchuang.core.permissions import Principal

SIGNATURE_HEADER = "X-Gongchuang-Signature"
# How old a signature may be; signatures seen are remembered a while longer (clock skew).
SIGNATURE_TOLERANCE = timedelta(seconds=300)
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10.0


# A delivery's status as its organisation's administrator reads it.
DELIVERY_STATUS = {
    "pending": N_("Waiting to be sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
}


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    tolerance_seconds: int = int(SIGNATURE_TOLERANCE.total_seconds()),
    now: int | None = None,
) -> bool:
    """What a receiver (or our own incoming webhooks) does with the signature header."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((int(time.time()) if now is None else now) - ts) > tolerance_seconds:
        return False
    expected = sign(secret, body, ts).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def accept_signed_request(
    session: Session, *, scope: str, secret: str, body: bytes, header: str | None, request_key: str
) -> None:
    """Check an incoming signed request and refuse a replay of it.

    A signature is valid for SIGNATURE_TOLERANCE, so one captured in transit could be sent
    again with a new Idempotency-Key and would pass the check alone. Each accepted signature is
    remembered (per signer `scope`) until it has expired: the same signature again is refused,
    unless it comes with the key it first came with, which is the sender's own retry and is
    answered by the caller's idempotency (the first result). A rollback of the caller's
    transaction forgets it, as nothing was accepted. Two copies racing in: the unique index
    lets one insert; the other finds it and is judged by its key."""
    if not header or not verify_signature(secret, body, header):
        raise AuthenticationRequired(N_("The request's signature is missing, wrong or too old"))
    digest = hashlib.sha256(header.strip().encode()).hexdigest()
    try:
        with session.begin_nested():
            session.add(SeenSignature(scope=scope, digest=digest, request_key=request_key))
            session.flush()
        return
    except IntegrityError:
        pass
    first_key = session.scalar(
        select(SeenSignature.request_key).where(
            SeenSignature.scope == scope, SeenSignature.digest == digest
        )
    )
    if first_key != request_key:
        raise Conflict(
            N_("This signed request was already received: each new request needs a new signature")
        )


jobs.register_periodic("core.forget_expired_signatures", 10 * 60)


@jobs.job_handler("core.forget_expired_signatures")
def forget_expired_signatures(session: Session, job: Job | None = None) -> None:
    session.execute(
        delete(SeenSignature).where(SeenSignature.created_at < utcnow() - 2 * SIGNATURE_TOLERANCE)
    )


def create_endpoint(
    session: Session, actor: Principal, organisation: Organisation, *, url: str, topics: list[str]
) -> WebhookEndpoint:
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(
            N_("The webhook address must be an http(s) URL"),
            errors=[{"field": "url", "message": N_("not an http(s) URL")}],
        )
    topics = sorted({t.strip() for t in topics if t.strip()})
    unknown = [t for t in topics if t != "*" and t not in events.TOPICS]
    if unknown:
        raise InvalidInput(
            N_("Unknown event topics: %(topics)s"),
            topics=", ".join(unknown),
            errors=[
                {
                    "field": "topics",
                    "message": Phrase(N_("unknown: %(names)s"), names=", ".join(unknown)),
                }
            ],
        )
    if not topics:
        raise InvalidInput(
            N_("Choose at least one topic"),
            errors=[{"field": "topics", "message": N_("choose at least one")}],
        )
    endpoint = WebhookEndpoint(
        organisation_id=organisation.id, url=url, topics=topics, secret=secrets.token_hex(24)
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        actor,
        "webhook.create",
        "webhook_endpoint",
        endpoint.id,
        after={"url": url, "topics": topics, "organisation_id": organisation.id},
    )
    return endpoint


def set_endpoint_active(
    session: Session, actor: Principal, organisation: Organisation, endpoint_id: int, active: bool
) -> WebhookEndpoint:
    endpoint = get_endpoint(session, organisation, endpoint_id)
    if endpoint.active != active:
        endpoint.active = active
        audit.record(
            session,
            actor,
            "webhook.enable" if active else "webhook.disable",
            "webhook_endpoint",
            endpoint.id,
        )
    return endpoint


def endpoints_for(session: Session, organisation: Organisation) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organisation_id == organisation.id)
            .order_by(WebhookEndpoint.id)
        )
    )


def deliveries_for(
    session: Session, endpoint: WebhookEndpoint, limit: int = 100
) -> list[WebhookDelivery]:
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def get_endpoint(session: Session, organisation: Organisation, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.organisation_id != organisation.id:
        raise NotFound()
    return endpoint


@events.subscribe_all
def _fan_out(session: Session, message: OutboxMessage) -> None:
    """Queue a delivery for every active endpoint of the event's organisation that wants it."""
    organisation_id = message.payload.get("organisation_id")
    if organisation_id is None:
        return
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organisation_id == organisation_id, WebhookEndpoint.active.is_(True)
        )
    )
    for endpoint in endpoints:
        if message.topic not in endpoint.topics and "*" not in endpoint.topics:
            continue
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            topic=message.topic,
            event_id=str(message.id),
            payload=message.payload,
        )
        session.add(delivery)
        session.flush()
        jobs.enqueue(session, "webhook.deliver", {"delivery_id": delivery.id})


@jobs.job_handler("webhook.deliver", lease_seconds=60)
def _deliver(session: Session, job: Job) -> None:
    delivery = session.get(WebhookDelivery, job.payload["delivery_id"])
    if delivery is None or delivery.status != "pending":
        return
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or not endpoint.active:
        delivery.status = "cancelled"
        return
    body = json.dumps(
        {"id": delivery.event_id, "topic": delivery.topic, "data": delivery.payload},
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    delivery.attempts += 1
    try:
        response = httpx.post(
            endpoint.url,
            content=body,
            timeout=TIMEOUT_SECONDS,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(endpoint.secret, body),
                "X-Gongchuang-Delivery": str(delivery.id),
                "X-Gongchuang-Topic": delivery.topic,
            },
        )
        delivery.last_status_code = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = None if ok else response.text[:500]
    except httpx.HTTPError as exc:
        ok = False
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if ok:
        delivery.status = "delivered"
        delivery.delivered_at = utcnow()
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
    else:
        # The retry is a new job in this same transaction, so the attempt record survives.
        jobs.enqueue(
            session,
            "webhook.deliver",
            {"delivery_id": delivery.id},
            run_at=utcnow() + jobs.retry_delay(delivery.attempts),
        )
