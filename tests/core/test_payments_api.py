"""Payments over HTTP: the provider's notification endpoint (no session, no CSRF; 204 also for a
duplicate; refusals as problem+json, never a 500), the sandbox cashier page and its API."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Payment, PaymentNotification, PaymentStatus
from gongchuang.core.payment_routes import NOTIFICATION_BODY_BYTES
from tests.conftest import api_token, csrf_token, login
from tests.core.test_payments import PURPOSE, paid_calls
from tests.support.aio import run_coroutine
from tests.support.world import World

URL = "/api/v1/payments/notifications/sandbox"


def start(session: Session, payer_id: int | None, amount_fen: int = 1234) -> Payment:
    payment = payments.start_payment(
        session,
        purpose=PURPOSE,
        reference="api-1",
        payer_id=payer_id,
        amount_fen=amount_fen,
        description="Test adoption",
        expires_at=utcnow() + timedelta(minutes=15),
        provider="sandbox",
    )
    session.commit()
    return payment


def test_a_notification_is_answered_204_and_again_204_as_a_duplicate(
    client, session: Session, world: World
) -> None:
    payment = start(session, world.villager_a.id)
    headers, body = payments.sandbox_notification(session, payment)
    before = len(paid_calls)
    for _ in range(2):
        response = client.post(URL, content=body, headers=headers)
        assert response.status_code == 204, response.text
    session.refresh(payment)
    assert payment.status == PaymentStatus.paid
    assert paid_calls[before:] == [payment.id]


def test_a_refused_notification_is_problem_json_and_changes_nothing(
    client, session: Session, world: World
) -> None:
    payment = start(session, world.villager_a.id)
    headers, body = payments.sandbox_notification(session, payment, amount_fen=1)
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    forged = client.post(URL, content=body.replace(b"{", b"{ ", 1), headers=headers)
    assert forged.status_code == 401
    malformed = b'{"id": "not closed'
    signed = payments.sandbox_signed_headers(session, malformed)
    answer = client.post(URL, content=malformed, headers=signed)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    session.refresh(payment)
    assert payment.status == PaymentStatus.pending
    assert session.scalar(select(func.count(PaymentNotification.id))) == 0


def test_a_body_over_the_limit_is_refused_without_reading_it_all(app, client, world: World) -> None:
    """At the ASGI level (the test client would read the whole body before sending it): a
    chunked megabyte is stopped just past 64 KiB, and a declared one before its first byte."""

    async def post(content_length: int | None) -> tuple[int, int]:
        read = 0
        answer: list[int] = []

        async def receive() -> dict[str, object]:
            nonlocal read
            read += 1
            return {"type": "http.request", "body": b"x" * 1024, "more_body": read < 1024}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                answer.append(int(message["status"]))  # type: ignore[call-overload]

        headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
        if content_length is not None:
            headers.append((b"content-length", str(content_length).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": URL,
            "raw_path": URL.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)
        return answer[0], read

    status, read = run_coroutine(post(None))
    assert status == 413 and read <= NOTIFICATION_BODY_BYTES // 1024 + 2
    status, read = run_coroutine(post(1024 * 1024))
    assert status == 413 and read <= 1
    declared = client.post(
        URL,
        content=b"x" * (NOTIFICATION_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"].startswith("application/problem+json")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.binary(max_size=2048), sign=st.booleans())
def test_random_bytes_are_refused_never_a_server_error(
    client, session: Session, world: World, body: bytes, sign: bool
) -> None:
    headers = payments.sandbox_signed_headers(session, body) if sign else {}
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == (400 if sign else 401), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_payer_pays_through_the_api(client, session: Session, world: World) -> None:
    payment = start(session, world.villager_a.id)
    other = api_token(client, world.outsider.phone, ["read"])
    url = f"/api/v1/payments/sandbox/{payment.out_trade_no}/pay"
    assert client.post(url, headers=other).status_code == 404
    assert client.post(url).status_code == 401
    headers = api_token(client, world.villager_a.phone, ["read"])
    response = client.post(url, headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["status"] == "paid" and data["amount_fen"] == 1234
    assert data["return_href"] == "/test/api-1" and data["paid_at"]
    assert client.post(url, headers=headers).status_code == 409


def test_the_sandbox_cashier_page_shows_yuan_and_pays(
    client, session: Session, world: World
) -> None:
    payment = start(session, world.villager_a.id)
    page_url = f"/payments/sandbox/{payment.out_trade_no}"
    assert client.get(page_url, follow_redirects=False).status_code in (302, 303, 307)
    login(client, world.villager_a.phone)
    page = client.get(page_url)
    assert page.status_code == 200
    assert "¥12.34" in page.text and "沙箱" in page.text
    english = client.get(page_url + "?lang=en")
    assert "Sandbox: no real money is taken." in english.text
    paid = client.post(page_url, data={"csrf_token": csrf_token(client)}, follow_redirects=False)
    assert paid.status_code == 303 and paid.headers["location"] == "/test/api-1"
    session.refresh(payment)
    assert payment.status == PaymentStatus.paid
    again = client.get(page_url)
    assert "¥12.34" in again.text and 'action="/payments/sandbox/' not in again.text
