"""Web Push: browsers subscribe, and the "push" notification channel sends to every device a
person subscribed, encrypted (RFC 8291) and signed with the platform's VAPID key (RFC 8292).
Subscriptions the push service reports gone (404/410) are deleted."""

from __future__ import annotations

import json
import logging
from functools import cache
from urllib.parse import urlparse

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from py_vapid.utils import b64urlencode
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.models import Person, PushSubscription
from gongchuang.core.notifications import register_channel

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0


def generate_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key PEM, public key for the browser)."""
    vapid = Vapid02()
    vapid.generate_keys()
    return vapid.private_pem().decode(), public_key_of(vapid)


def public_key_of(vapid: Vapid02) -> str:
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(raw)


@cache
def _vapid(pem: str) -> Vapid02:
    return Vapid02.from_pem(pem.encode())


def configured_vapid() -> Vapid02 | None:
    pem = get_settings().vapid_private_key_pem
    return _vapid(pem.replace("\\n", "\n")) if pem else None


def public_key() -> str | None:
    """The key browsers subscribe with, or None when this server has push turned off."""
    vapid = configured_vapid()
    return public_key_of(vapid) if vapid is not None else None


def subscribe(
    session: Session, person_id: int, *, endpoint: str, p256dh: str, auth: str, user_agent: str
) -> PushSubscription:
    if urlparse(endpoint).scheme not in ("https", "http") or not urlparse(endpoint).netloc:
        raise InvalidInput(
            N_("The push endpoint must be an http(s) URL"),
            errors=[{"field": "endpoint", "message": N_("not an http(s) URL")}],
        )
    existing = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if existing is not None:
        # The same browser re-subscribing, possibly after another person used it.
        existing.person_id, existing.p256dh, existing.auth = person_id, p256dh, auth
        return existing
    subscription = PushSubscription(
        person_id=person_id,
        endpoint=endpoint,
        p256dh=p256dh,
        auth=auth,
        user_agent=user_agent[:300],
    )
    session.add(subscription)
    session.flush()
    return subscription


def unsubscribe(session: Session, person_id: int, endpoint: str) -> None:
    session.execute(
        delete(PushSubscription).where(
            PushSubscription.person_id == person_id, PushSubscription.endpoint == endpoint
        )
    )


def subscriptions_of(session: Session, person_id: int) -> list[PushSubscription]:
    return list(
        session.scalars(select(PushSubscription).where(PushSubscription.person_id == person_id))
    )


class WebPushChannel:
    name = "push"

    def send(
        self, session: Session, person: Person, title: str, body: str, link: str | None
    ) -> str:
        vapid = configured_vapid()
        if vapid is None:
            return "skipped: no VAPID key configured"
        targets = subscriptions_of(session, person.id)
        if not targets:
            return "skipped: no subscribed device"
        payload = json.dumps({"title": title, "body": body, "link": link}, ensure_ascii=False)
        from pywebpush import WebPushException, webpush  # (its import is slow; sending only)

        sent, gone, failed = 0, 0, []
        for subscription in targets:
            try:
                webpush(
                    {
                        "endpoint": subscription.endpoint,
                        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                    },
                    data=payload,
                    vapid_private_key=vapid,
                    vapid_claims={"sub": get_settings().vapid_subject},
                    timeout=TIMEOUT_SECONDS,
                    ttl=3600,
                )
                subscription.last_success_at = utcnow()
                sent += 1
            except WebPushException as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status in (404, 410):
                    session.delete(subscription)
                    gone += 1
                else:
                    failed.append(f"{status}: {exc}"[:200])
        if failed and not sent:
            # Raising retries the job later with backoff.
            raise RuntimeError("; ".join(failed))
        return f"sent to {sent} device(s), {gone} expired, {len(failed)} failed"


register_channel(WebPushChannel())
