"""Payments: the WeChat Pay v3 scheme (signatures, AES-256-GCM) against real keys and a fixed
vector; notifications processed once, refused ones changing nothing; refunds that never
exceed what was paid, raced by real threads on PostgreSQL."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict, GongchuangError, InvalidInput, NotFound
from gongchuang.core.models import (
    AuditEntry,
    OutboxMessage,
    Payment,
    PaymentNotification,
    PaymentRefund,
    PaymentStatus,
)
from gongchuang.core.payments import wechatpay
from gongchuang.core.payments.sandbox import sandbox_keys
from tests.support.databases import fresh_database
from tests.support.world import World, make_person

PURPOSE = "test.purpose"
paid_calls: list[int] = []
refund_calls: list[tuple[int, int]] = []
_lock = threading.Lock()


def _on_paid(session: Session, payment: Payment) -> None:
    with _lock:
        paid_calls.append(payment.id)


def _on_refunded(session: Session, payment: Payment, refund: PaymentRefund) -> None:
    with _lock:
        refund_calls.append((payment.id, refund.id))


HANDLERS = payments.PurposeHandlers(
    on_paid=_on_paid, on_refunded=_on_refunded, return_href=lambda p: f"/test/{p.reference}"
)
payments.register_purpose(PURPOSE, HANDLERS)


def start(session: Session, payer_id: int | None, amount_fen: int = 1234, **kw) -> Payment:  # type: ignore[no-untyped-def]
    return payments.start_payment(
        session,
        purpose=PURPOSE,
        reference=kw.pop("reference", "ref-1"),
        payer_id=payer_id,
        amount_fen=amount_fen,
        description="Test adoption",
        expires_at=kw.pop("expires_at", utcnow() + timedelta(minutes=15)),
        provider="sandbox",
    )


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- the scheme, pure --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> object:
    return wechatpay.generate_private_key()


def test_a_signature_verifies_and_any_changed_byte_fails(key) -> None:  # type: ignore[no-untyped-def]
    body = b'{"id":"n1","event_type":"TRANSACTION.SUCCESS"}'
    headers = wechatpay.signed_headers(key, "SERIAL1", body, timestamp=1_700_000_000, nonce="n0nce")
    keys = {"SERIAL1": key.public_key()}
    wechatpay.verify_notification(headers, body, keys, now=1_700_000_010)
    changed_body = body.replace(b"n1", b"n2")
    with pytest.raises(wechatpay.SignatureRefused):
        wechatpay.verify_notification(headers, changed_body, keys, now=1_700_000_010)
    for name, value in (
        ("Wechatpay-Timestamp", "1700000001"),
        ("Wechatpay-Nonce", "n0ncf"),
        ("Wechatpay-Signature", _flip(headers["Wechatpay-Signature"])),
        ("Wechatpay-Serial", "SERIAL2"),  # a key we do not trust
        ("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3"),
    ):
        with pytest.raises(wechatpay.SignatureRefused) as refused:
            wechatpay.verify_notification({**headers, name: value}, body, keys, now=1_700_000_010)
        assert refused.value.status_code == 401
    other = wechatpay.generate_private_key()
    with pytest.raises(wechatpay.SignatureRefused):
        wechatpay.verify_notification(
            headers, body, {"SERIAL1": other.public_key()}, now=1_700_000_010
        )


def _flip(signature: str) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[10] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_a_timestamp_more_than_five_minutes_away_is_refused(key) -> None:  # type: ignore[no-untyped-def]
    body = b"{}"
    headers = wechatpay.signed_headers(key, "S", body, timestamp=1_700_000_000)
    keys = {"S": key.public_key()}
    wechatpay.verify_notification(headers, body, keys, now=1_700_000_000 + 300)
    for now in (1_700_000_000 + 301, 1_700_000_000 - 301):
        with pytest.raises(wechatpay.SignatureRefused):
            wechatpay.verify_notification(headers, body, keys, now=now)


def test_aes_gcm_round_trip_and_tampering_is_a_clean_400() -> None:
    apiv3 = b"k" * 32
    secret = json.dumps({"out_trade_no": "GC1", "amount": {"total": 1}}).encode()
    ciphertext = wechatpay.encrypt_resource(
        apiv3, secret, nonce="123456789012", associated_data="transaction"
    )
    assert (
        wechatpay.decrypt_resource(
            apiv3, ciphertext, nonce="123456789012", associated_data="transaction"
        )
        == secret
    )
    raw = bytearray(base64.b64decode(ciphertext))
    raw[0] ^= 0x01
    tampered = base64.b64encode(bytes(raw)).decode()
    attempts = [
        (apiv3, tampered, "123456789012", "transaction"),
        (apiv3, ciphertext, "123456789012", "refund"),  # associated data changed
        (apiv3, ciphertext, "123456789013", "transaction"),
        (b"j" * 32, ciphertext, "123456789012", "transaction"),
        (apiv3, "not base64 at all!", "123456789012", "transaction"),
        (apiv3, ciphertext, "", "transaction"),
    ]
    for key, text, nonce, ad in attempts:
        with pytest.raises(wechatpay.MalformedNotification) as refused:
            wechatpay.decrypt_resource(key, text, nonce=nonce, associated_data=ad)
        assert refused.value.status_code == 400


def test_the_scheme_matches_a_fixed_vector() -> None:
    """Computed once and pasted: a change of key use, nonce or tag placement is caught."""
    apiv3 = b"0123456789abcdef0123456789abcdef"
    plaintext = b'{"out_trade_no":"GC20261203000000abcd","amount":{"total":1234}}'
    expected = (
        "XB6AYUjndFbh+NAj34vT6jXu66JARwSecEOgOahfVvPV7eGuBC5KFmlS6OM8d3y5bQNRJiFiSgiW657CzT7F"
        "XiXgcSK4Pd0O3Qyt3ssyxQ=="
    )
    got = wechatpay.encrypt_resource(
        apiv3, plaintext, nonce="a1b2c3d4e5f6", associated_data="transaction"
    )
    assert got == expected
    opened = wechatpay.decrypt_resource(
        apiv3, expected, nonce="a1b2c3d4e5f6", associated_data="transaction"
    )
    assert opened == plaintext
    assert wechatpay.notification_message("1700000000", "abc", b"{}") == b"1700000000\nabc\n{}\n"


def test_a_merchant_request_is_signed_as_wechat_pay_expects(key) -> None:  # type: ignore[no-untyped-def]
    header = wechatpay.authorization_header(
        mch_id="1900000001",
        serial_no="5157F09EFDC096DE15EBE81A47057A72",
        key=key,
        method="post",
        url_path="/v3/pay/transactions/native",
        body='{"a":1}',
        timestamp=1_700_000_000,
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="593BEC0C')
    fields = dict(part.split("=", 1) for part in header.split(" ", 1)[1].split(","))
    assert fields["timestamp"] == '"1700000000"'
    assert fields["serial_no"] == '"5157F09EFDC096DE15EBE81A47057A72"'
    message = (
        b"POST\n/v3/pay/transactions/native\n1700000000\n"
        b'593BEC0C930BF1AFEB40B4A08C8FB242\n{"a":1}\n'
    )
    assert wechatpay.verify_signature(key.public_key(), message, fields["signature"].strip('"'))


# --- the service -------------------------------------------------------------------------------


def test_paying_in_the_sandbox_marks_paid_audits_publishes_and_calls_back_once(
    session: Session, world: World
) -> None:
    payment = start(session, world.villager_a.id)
    assert payment.status == PaymentStatus.pending
    assert 6 <= len(payment.out_trade_no) <= 32 and payment.out_trade_no.isalnum()
    assert payments.checkout_href(payment) == f"/payments/sandbox/{payment.out_trade_no}"
    before = len(paid_calls)
    paid = payments.sandbox_pay(session, payment.out_trade_no, payer_id=world.villager_a.id)
    assert paid.status == PaymentStatus.paid and paid.transaction_id and paid.paid_at
    assert paid_calls[before:] == [payment.id]
    topics = session.scalars(select(OutboxMessage.topic)).all()
    assert "payment.succeeded" in topics
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.paid")) is not None
    with pytest.raises(Conflict):
        payments.sandbox_pay(session, payment.out_trade_no, payer_id=world.villager_a.id)
    assert paid_calls[before:] == [payment.id]


def test_someone_elses_payment_is_not_found(session: Session, world: World) -> None:
    payment = start(session, world.villager_a.id)
    with pytest.raises(NotFound):
        payments.sandbox_pay(session, payment.out_trade_no, payer_id=world.outsider.id)
    assert payment.status == PaymentStatus.pending


def test_nothing_is_started_for_no_money(session: Session, world: World) -> None:
    for amount in (0, -1):
        with pytest.raises(InvalidInput):
            start(session, world.villager_a.id, amount_fen=amount)
    assert count(session, Payment) == 0


def test_the_same_notification_twice_is_a_duplicate_that_changes_nothing(
    session: Session, world: World
) -> None:
    payment = start(session, world.villager_a.id)
    headers, body = payments.sandbox_notification(session, payment)
    before = len(paid_calls)
    assert payments.handle_notification(session, "sandbox", headers, body) == "applied"
    audits = count(session, AuditEntry)
    assert payments.handle_notification(session, "sandbox", headers, body) == "duplicate"
    assert count(session, AuditEntry) == audits
    assert count(session, PaymentNotification) == 1
    assert paid_calls[before:] == [payment.id]


def test_refused_notifications_change_nothing(session: Session, world: World) -> None:
    payment = start(session, world.villager_a.id)
    stale = int(utcnow().timestamp()) - 301
    headers, body = payments.sandbox_notification(session, payment, timestamp=stale)
    cases: list[tuple[dict[str, str], bytes, int]] = [(headers, body, 401)]
    headers, body = payments.sandbox_notification(session, payment)
    forged = body.replace(b'"id":"', b'"id":"x', 1)
    cases.append((headers, forged, 401))
    cases.append(({**headers, "Wechatpay-Serial": "SANDBOX_OTHER"}, body, 401))
    wrong_headers, wrong_body = payments.sandbox_notification(session, payment, amount_fen=1)
    cases.append((wrong_headers, wrong_body, 409))
    unknown = start(session, world.villager_a.id, reference="ref-2")
    unknown_headers, unknown_body = payments.sandbox_notification(session, unknown)
    unknown.out_trade_no = "GCNOSUCHORDER000000000000000000"
    session.flush()
    cases.append((unknown_headers, unknown_body, 409))
    for case_headers, case_body, status in cases:
        with pytest.raises(GongchuangError) as refused:
            payments.handle_notification(session, "sandbox", case_headers, case_body)
        assert refused.value.status_code == status, refused.value.message
    session.refresh(payment)
    assert payment.status == PaymentStatus.pending and payment.transaction_id is None
    assert count(session, PaymentNotification) == 0


def test_an_expired_payment_cannot_be_paid_at_the_cashier_but_money_that_came_is_kept(
    session: Session, world: World
) -> None:
    payment = start(session, world.villager_a.id, expires_at=utcnow() + timedelta(seconds=1))
    payment.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    with pytest.raises(Conflict) as refused:
        payments.sandbox_pay(session, payment.out_trade_no, payer_id=world.villager_a.id)
    assert refused.value.message == "This payment has expired"
    payments.close_payment(session, payment)
    assert payment.status == PaymentStatus.closed and payment.closed_at
    # WeChat Pay says the money arrived after all: it is recorded; on_paid decides.
    headers, body = payments.sandbox_notification(session, payment)
    assert payments.handle_notification(session, "sandbox", headers, body) == "applied"
    session.refresh(payment)
    assert payment.status == PaymentStatus.paid
    with pytest.raises(Conflict):
        payments.close_payment(session, payment)


def _paid(session: Session, world: World, amount_fen: int = 1000) -> Payment:
    payment = start(session, world.villager_a.id, amount_fen=amount_fen)
    return payments.sandbox_pay(session, payment.out_trade_no, payer_id=world.villager_a.id)


def test_partial_then_full_refund(session: Session, world: World) -> None:
    payment = _paid(session, world)
    before = len(refund_calls)
    first = payments.refund(
        session, payment, amount_fen=300, reason="changed mind", requested_by=world.admin.id
    )
    assert first.status == "succeeded" and first.provider_refund_id
    assert payment.status == PaymentStatus.paid and payment.refunded_fen == 300
    second = payments.refund(session, payment, amount_fen=700, reason="the rest", requested_by=None)
    assert payment.status == PaymentStatus.refunded and payment.refunded_fen == 1000
    assert refund_calls[before:] == [(payment.id, first.id), (payment.id, second.id)]
    assert session.scalars(select(OutboxMessage.topic)).all().count("payment.refunded") == 2
    with pytest.raises(Conflict):
        payments.refund(session, payment, amount_fen=1, reason="more", requested_by=None)


def test_a_refund_larger_than_paid_is_refused_and_changes_nothing(
    session: Session, world: World
) -> None:
    payment = _paid(session, world)
    payments.refund(session, payment, amount_fen=600, reason="part", requested_by=None)
    refunds = count(session, PaymentRefund)
    with pytest.raises(Conflict) as refused:
        payments.refund(session, payment, amount_fen=401, reason="too much", requested_by=None)
    assert "larger than paid" in refused.value.message
    for amount in (0, -5):
        with pytest.raises(InvalidInput):
            payments.refund(session, payment, amount_fen=amount, reason="none", requested_by=None)
    assert count(session, PaymentRefund) == refunds and payment.refunded_fen == 600
    pending = start(session, world.villager_a.id, reference="unpaid")
    with pytest.raises(Conflict):
        payments.refund(session, pending, amount_fen=1, reason="not paid", requested_by=None)


def test_a_refund_notification_twice_counts_once(session: Session, world: World) -> None:
    payment = _paid(session, world)
    made = payments.refund(session, payment, amount_fen=100, reason="part", requested_by=None)
    headers, body = payments.sandbox_notification(
        session, payment, event="REFUND.SUCCESS", refund=made
    )
    assert payments.handle_notification(session, "sandbox", headers, body) == "duplicate"
    session.refresh(payment)
    assert payment.refunded_fen == 100


# --- races (PostgreSQL: real threads, one connection each) ------------------------------------


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    with fresh_database(tmp_path, "payments_race") as database:
        yield database


def race(callables) -> tuple[list[object], list[BaseException]]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(len(callables))
    results: list[object] = []
    errors: list[BaseException] = []

    def run(fn) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            results.append(fn())
        except BaseException as exc:  # collected for the assertions
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in callables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def _committed_payment(db: Database, amount_fen: int) -> tuple[int, str]:
    with db.transaction() as session:
        person = make_person(session, "13900000077", "Payer")
        payment = start(session, person.id, amount_fen=amount_fen)
        sandbox_keys(session)
        return person.id, payment.out_trade_no


def test_identical_notifications_racing_apply_once(db: Database) -> None:
    _, out_trade_no = _committed_payment(db, 500)
    with db.transaction() as session:
        payment = payments.payment_by_out_trade_no(session, out_trade_no)
        assert payment is not None
        headers, body = payments.sandbox_notification(session, payment)

    def deliver() -> str:
        with db.transaction() as session:
            return payments.handle_notification(session, "sandbox", headers, body)

    before = len(paid_calls)
    results, errors = race([deliver for _ in range(6)])
    assert not errors, errors[:2]
    assert sorted(results) == ["applied"] + ["duplicate"] * 5
    with db.transaction(write=False) as session:
        assert count(session, PaymentNotification) == 1
        assert session.scalar(select(Payment.status)) == PaymentStatus.paid
    assert len(paid_calls) - before == 1


def test_racing_refunds_never_exceed_what_was_paid(db: Database) -> None:
    payer_id, out_trade_no = _committed_payment(db, 1000)
    with db.transaction() as session:
        payments.sandbox_pay(session, out_trade_no, payer_id=payer_id)

    def refund_400() -> object:
        with db.transaction() as session:
            payment = payments.payment_by_out_trade_no(session, out_trade_no)
            assert payment is not None
            return payments.refund(
                session, payment, amount_fen=400, reason="race", requested_by=None
            )

    results, errors = race([refund_400 for _ in range(6)])
    assert len(results) == 2
    assert len(errors) == 4 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        payment = session.scalars(select(Payment)).one()
        assert payment.refunded_fen == 800 and payment.status == PaymentStatus.paid
        refunded = session.scalar(select(func.sum(PaymentRefund.amount_fen)))
        assert refunded == 800


# --- WeChat Pay, configured (no network: the request it would send is captured) --------------


@pytest.fixture
def wechat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    from gongchuang.config import get_settings
    from gongchuang.core.payments.providers import WeChatPayProvider

    platform = wechatpay.generate_private_key()
    public = platform.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "pub_key.pem").write_bytes(public)
    merchant = wechatpay.private_key_pem(wechatpay.generate_private_key())
    (tmp_path / "apiclient_key.pem").write_text(merchant)
    for name, value in {
        "MCH_ID": "1900000001",
        "APP_ID": "wx0000000000000001",
        "APIV3_KEY": "a" * 32,
        "PRIVATE_KEY_PATH": str(tmp_path / "apiclient_key.pem"),
        "CERTIFICATE_SERIAL": "5157F09EFDC096DE15EBE81A47057A72",
        "PLATFORM_PUBLIC_KEY_PATH": str(tmp_path / "pub_key.pem"),
        "PLATFORM_PUBLIC_KEY_ID": "PUB_KEY_ID_0114",
        "NOTIFY_URL": "https://example.cn/api/v1/payments/notifications/wechatpay",
    }.items():
        monkeypatch.setenv(f"GONGCHUANG_WECHATPAY_{name}", value)
    get_settings.cache_clear()
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(
        WeChatPayProvider, "_post", lambda self, path, payload: sent.append((path, payload)) or {}
    )
    yield platform, sent
    monkeypatch.undo()
    get_settings.cache_clear()


def _wechat_notification(platform, event: str, resource: dict[str, object]):  # type: ignore[no-untyped-def]
    return wechatpay.build_notification(
        key=platform,
        serial="PUB_KEY_ID_0114",
        apiv3_key=b"a" * 32,
        notification_id=f"{event}-{resource.get('out_refund_no', resource['out_trade_no'])}",
        create_time="2026-12-03T12:00:00+08:00",
        event_type=event,
        summary="",
        original_type="refund" if event.startswith("REFUND") else "transaction",
        resource={"mchid": "1900000001", **resource},
        timestamp=int(utcnow().timestamp()),
    )


def test_wechat_pay_notifications_verify_with_the_configured_key_and_a_failed_refund_frees_it(
    session: Session, world: World, wechat
) -> None:  # type: ignore[no-untyped-def]
    platform, sent = wechat
    payment = payments.start_payment(
        session,
        purpose=PURPOSE,
        reference="wx-1",
        payer_id=world.villager_a.id,
        amount_fen=500,
        description="Test adoption",
        expires_at=utcnow() + timedelta(minutes=15),
        provider="wechatpay",
    )
    sandboxed = payments.sandbox_notification(session, payment)
    with pytest.raises(wechatpay.SignatureRefused):
        payments.handle_notification(session, "wechatpay", *sandboxed)
    paid = {
        "out_trade_no": payment.out_trade_no,
        "transaction_id": "4200000001202612030000000001",
        "trade_state": "SUCCESS",
        "success_time": "2026-12-03T12:00:00+08:00",
        "amount": {"total": 500, "payer_total": 500, "currency": "CNY", "payer_currency": "CNY"},
    }
    headers, body = _wechat_notification(platform, "TRANSACTION.SUCCESS", paid)
    assert payments.handle_notification(session, "wechatpay", headers, body) == "applied"
    assert payment.status == PaymentStatus.paid
    made = payments.refund(session, payment, amount_fen=500, reason="all", requested_by=None)
    assert made.status == "pending" and payment.refunded_fen == 0
    path, payload = sent[-1]
    assert path == "/v3/refund/domestic/refunds"
    assert payload["out_refund_no"] == made.out_refund_no
    assert payload["amount"] == {"refund": 500, "total": 500, "currency": "CNY"}
    with pytest.raises(Conflict):  # the pending refund holds the whole amount
        payments.refund(session, payment, amount_fen=1, reason="more", requested_by=None)
    closed = {
        "out_trade_no": payment.out_trade_no,
        "out_refund_no": made.out_refund_no,
        "refund_id": "50300000012026120300000001",
        "refund_status": "CLOSED",
        "amount": {"total": 500, "refund": 500, "payer_total": 500, "payer_refund": 500},
    }
    headers, body = _wechat_notification(platform, "REFUND.CLOSED", closed)
    assert payments.handle_notification(session, "wechatpay", headers, body) == "applied"
    session.refresh(made)
    assert made.status == "failed" and payment.refunded_fen == 0
    again = payments.refund(session, payment, amount_fen=500, reason="retry", requested_by=None)
    assert again.status == "pending"
