"""A provider's notifications: verified, opened and applied once.

A notification is processed once: its id is recorded (`PaymentNotification`, unique per
provider), so a provider's retry and a racing copy change nothing; a refused one (bad
signature, stale, malformed, an amount that does not match) changes nothing either: it is
applied in a savepoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, events
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict
from gongchuang.core.i18n import N_
from gongchuang.core.models import (
    Payment,
    PaymentNotification,
    PaymentRefund,
    PaymentStatus,
    RefundStatus,
)
from gongchuang.core.payments import wechatpay
from gongchuang.core.payments.providers import parse_time, provider_named
from gongchuang.core.payments.purposes import handlers_for, locked_payment, provider_actor
from gongchuang.core.topics import PaymentRefunded, PaymentSucceeded

APPLIED = "applied"
DUPLICATE = "duplicate"


def handle_notification(
    session: Session, provider: str, headers: Mapping[str, str], body: bytes
) -> str:
    """Verify, open and apply a provider's notification, in the caller's transaction.
    "applied" the first time (also for an event this service has nothing to do for),
    "duplicate" for one already processed; a refusal raises and changes nothing."""
    chosen = provider_named(provider)
    wechatpay.verify_notification(
        headers, body, chosen.verification_keys(session), now=int(utcnow().timestamp())
    )
    envelope, resource = wechatpay.open_notification(body, chosen.apiv3_key(session))
    if resource.get("mchid") != chosen.merchant_id(session):
        raise Conflict(N_("The notification is for another merchant"))
    seen = select(PaymentNotification.id).where(
        PaymentNotification.provider == provider,
        PaymentNotification.notification_id == envelope["id"],
    )
    if session.scalar(seen) is not None:
        return DUPLICATE
    # Everything or nothing: a refusal below leaves the caller's transaction as it was.
    with session.begin_nested():
        note = PaymentNotification(
            provider=provider,
            notification_id=envelope["id"],
            event_type=envelope["event_type"][:40],
            resource_type=envelope["resource_type"][:40],
            outcome=APPLIED,
        )
        try:
            # A racing copy: the unique index lets one insert; the other waits, then fails.
            with session.begin_nested():
                session.add(note)
                session.flush()
        except IntegrityError:
            return DUPLICATE
        event_type = envelope["event_type"]
        if event_type == "TRANSACTION.SUCCESS":
            note.outcome = _apply_paid(session, provider, resource)
        elif event_type.startswith("REFUND."):
            note.outcome = _apply_refund(session, provider, event_type, resource)
        else:
            note.outcome = "ignored"
        session.flush()
    return DUPLICATE if note.outcome == "already_applied" else APPLIED


def _payment_for(session: Session, provider: str, resource: Mapping[str, Any]) -> Payment:
    out_trade_no = resource.get("out_trade_no")
    payment = (
        session.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
        if isinstance(out_trade_no, str)
        else None
    )
    if payment is None or payment.provider != provider:
        raise Conflict(N_("The notification is for a payment we do not know"))
    return locked_payment(session, payment.id)


def _amount(resource: Mapping[str, Any], field: str) -> int | None:
    amount = resource.get("amount")
    value = amount.get(field) if isinstance(amount, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _apply_paid(session: Session, provider: str, resource: Mapping[str, Any]) -> str:
    payment = _payment_for(session, provider, resource)
    transaction_id = resource.get("transaction_id")
    if resource.get("trade_state") != "SUCCESS" or not isinstance(transaction_id, str):
        raise wechatpay.MalformedNotification(
            N_("The notification does not say the payment succeeded")
        )
    if not 0 < len(transaction_id) <= 64:
        raise wechatpay.MalformedNotification(
            N_("The notification does not say the payment succeeded")
        )
    currency = (resource.get("amount") or {}).get("currency", "CNY")
    if _amount(resource, "total") != payment.amount_fen or currency != "CNY":
        raise Conflict(
            N_("The amount paid does not match the payment (%(expected)s fen expected)"),
            expected=payment.amount_fen,
        )
    if payment.status in (PaymentStatus.paid, PaymentStatus.refunded):
        if payment.transaction_id == transaction_id:
            return "already_applied"
        raise Conflict(N_("This payment was already paid by another transaction"))
    before = payment.status
    payment.status = PaymentStatus.paid
    payment.transaction_id = transaction_id
    payment.paid_at = parse_time(resource.get("success_time")) or utcnow()
    session.flush()
    audit.record(
        session,
        provider_actor(provider),
        "payment.paid",
        "payment",
        payment.id,
        before={"status": before},
        after={
            "status": payment.status,
            "transaction_id": transaction_id,
            "amount_fen": payment.amount_fen,
        },
    )
    events.publish(
        session,
        PaymentSucceeded(
            payment_id=payment.id,
            out_trade_no=payment.out_trade_no,
            purpose=payment.purpose,
            reference=payment.reference,
            payer_id=payment.payer_id,
            amount_fen=payment.amount_fen,
            paid_at=payment.paid_at,
        ),
    )
    handlers_for(payment.purpose).on_paid(session, payment)
    return APPLIED


def _apply_refund(
    session: Session, provider: str, event_type: str, resource: Mapping[str, Any]
) -> str:
    payment = _payment_for(session, provider, resource)
    made = session.scalar(
        select(PaymentRefund).where(
            PaymentRefund.out_refund_no == str(resource.get("out_refund_no")),
            PaymentRefund.payment_id == payment.id,
        )
    )
    if made is None:
        raise Conflict(N_("The notification is for a refund we do not know"))
    if _amount(resource, "refund") != made.amount_fen or _amount(resource, "total") != (
        payment.amount_fen
    ):
        raise Conflict(
            N_("The amount refunded does not match the refund (%(expected)s fen expected)"),
            expected=made.amount_fen,
        )
    if made.status != RefundStatus.pending:
        return "already_applied"
    refund_id = resource.get("refund_id")
    made.provider_refund_id = refund_id[:64] if isinstance(refund_id, str) else None
    if event_type != "REFUND.SUCCESS":
        # REFUND.ABNORMAL / REFUND.CLOSED: the money did not go back; what it held is free.
        made.status = RefundStatus.failed
        audit.record(
            session,
            provider_actor(provider),
            "payment.refund_failed",
            "payment",
            payment.id,
            after={"refund_id": made.id, "event": event_type},
        )
        return "refund_failed"
    # The CHECK (refunded_fen <= amount_fen) holds it if anything above were wrong.
    raised = session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id, Payment.refunded_fen + made.amount_fen <= Payment.amount_fen
        )
        .values(refunded_fen=Payment.refunded_fen + made.amount_fen)
        .execution_options(synchronize_session=False)
    )
    if raised.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("A refund larger than paid cannot be recorded"))
    session.refresh(payment)
    before = payment.status
    if payment.refunded_fen == payment.amount_fen:
        payment.status = PaymentStatus.refunded
    made.status = RefundStatus.succeeded
    made.succeeded_at = parse_time(resource.get("success_time")) or utcnow()
    session.flush()
    audit.record(
        session,
        provider_actor(provider),
        "payment.refunded",
        "payment",
        payment.id,
        before={"status": before},
        after={
            "status": payment.status,
            "refund_id": made.id,
            "amount_fen": made.amount_fen,
            "refunded_fen": payment.refunded_fen,
        },
    )
    events.publish(
        session,
        PaymentRefunded(
            payment_id=payment.id,
            refund_id=made.id,
            out_trade_no=payment.out_trade_no,
            purpose=payment.purpose,
            reference=payment.reference,
            payer_id=payment.payer_id,
            amount_fen=made.amount_fen,
            refunded_fen=payment.refunded_fen,
            fully_refunded=payment.status == PaymentStatus.refunded,
        ),
    )
    handlers_for(payment.purpose).on_refunded(session, payment, made)
    return APPLIED
