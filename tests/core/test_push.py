"""Web Push to a real HTTP push service on the loopback; the test decrypts what arrived with
the subscriber's own keys, as a browser would."""

from __future__ import annotations

import base64
import json
import os

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import notifications, push
from gongchuang.core.models import Job, NotificationDelivery, PushSubscription
from tests.conftest import api_token
from tests.support.receiver import webhook_receiver


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture
def vapid(monkeypatch):
    private_pem, public = push.generate_keys()
    monkeypatch.setattr(get_settings(), "vapid_private_key_pem", private_pem)
    return public


@pytest.fixture
def browser_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, b64(public), os.urandom(16)


def _deliver(session: Session, note) -> NotificationDelivery:
    job = (
        session.query(Job)
        .filter(
            Job.kind == "notification.deliver",
            Job.payload["notification_id"].as_integer() == note.id,
        )
        .one()
    )
    notifications._deliver(session, job)
    return session.query(NotificationDelivery).filter_by(notification_id=note.id).one()


def test_push_reaches_the_device_encrypted_and_signed(
    client, world, session, vapid, browser_keys
) -> None:
    private, p256dh, auth_secret = browser_keys
    assert client.get("/api/v1/push/public-key").json()["public_key"] == vapid
    headers = api_token(client, world.villager_a.phone, ["read"])
    with webhook_receiver() as service:
        subscribed = client.post(
            "/api/v1/me/push-subscriptions",
            headers=headers,
            json={"endpoint": service.url, "keys": {"p256dh": p256dh, "auth": b64(auth_secret)}},
        )
        assert subscribed.status_code == 204
        note = notifications.notify(
            session,
            world.villager_a.id,
            kind="t",
            title="You joined %(organisation)s",
            params={"organisation": "甲示范村"},
            channels=("push",),
        )
        delivery = _deliver(session, note)
    assert delivery.status == "sent" and "sent to 1 device" in delivery.detail
    received = service.received[0]
    assert received.headers["content-encoding"] == "aes128gcm"
    assert received.headers["authorization"].startswith("vapid t=")
    plain = http_ece.decrypt(
        received.body, private_key=private, auth_secret=auth_secret, version="aes128gcm"
    )
    assert json.loads(plain)["title"] == "您已加入甲示范村"


def test_expired_subscriptions_are_removed(client, world, session, vapid, browser_keys) -> None:
    _private, p256dh, auth_secret = browser_keys
    with webhook_receiver(fail_first=1, status_when_failing=410) as service:
        push.subscribe(
            session,
            world.villager_a.id,
            endpoint=service.url,
            p256dh=p256dh,
            auth=b64(auth_secret),
            user_agent="test",
        )
        note = notifications.notify(
            session, world.villager_a.id, kind="t", title="Hello", channels=("push",)
        )
        delivery = _deliver(session, note)
    assert "1 expired" in delivery.detail
    assert session.query(PushSubscription).count() == 0


def test_push_is_off_without_a_key(client, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "vapid_private_key_pem", None)
    assert client.get("/api/v1/push/public-key").json() == {"public_key": None}


def test_only_the_owner_subscribes_and_bad_endpoints_are_refused(client, world) -> None:
    body = {"endpoint": "not a url", "keys": {"p256dh": "x", "auth": "y"}}
    assert client.post("/api/v1/me/push-subscriptions", json=body).status_code == 401
    headers = api_token(client, world.villager_a.phone, ["read"])
    assert (
        client.post("/api/v1/me/push-subscriptions", json=body, headers=headers).status_code == 422
    )
