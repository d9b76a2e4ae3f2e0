"""Payments for every domain: start one, close it, refund it.

A domain starts payments for its own references under a registered purpose (`purposes`), and
is called back when the provider's notification (`notifications.handle_notification`) says
the money arrived or went back.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment, PaymentRefund, PaymentStatus, RefundStatus
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.payments.notifications import handle_notification
from gongchuang.core.payments.providers import SANDBOX, WECHATPAY, provider_named
from gongchuang.core.payments.purposes import handlers_for, locked_payment, provider_actor
from gongchuang.core.permissions import Principal


def new_out_trade_no() -> str:
    """WeChat's merchant order number: 32 characters of [A-Za-z0-9], time-ordered."""
    return "GC" + utcnow().strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)


def start_payment(
    session: Session,
    *,
    purpose: str,
    reference: str,
    payer_id: int | None,
    amount_fen: int,
    description: str,
    expires_at: datetime,
    provider: str | None = None,
) -> Payment:
    """A pending payment. Default provider: the sandbox while `payments_sandbox` is set, else
    WeChat Pay. The payer pays at `checkout_href(payment)`."""
    if amount_fen <= 0:
        raise InvalidInput(
            N_("The amount to pay must be more than zero"),
            errors=[{"field": "amount_fen", "message": N_("must be more than zero")}],
        )
    if not reference or len(reference) > 64:
        raise InvalidInput(N_("A payment needs a reference of at most 64 characters"))
    if not description.strip() or len(description) > 127:
        raise InvalidInput(N_("A payment needs a description of at most 127 characters"))
    if expires_at.tzinfo is None or expires_at <= utcnow():
        raise InvalidInput(N_("A payment must expire in the future"))
    handlers_for(purpose)
    chosen = provider or (SANDBOX if get_settings().payments_sandbox else WECHATPAY)
    provider_named(chosen).merchant_id(session)  # refuses a provider that is not configured
    payment = Payment(
        provider=chosen,
        out_trade_no=new_out_trade_no(),
        purpose=purpose,
        reference=reference,
        payer_id=payer_id,
        amount_fen=amount_fen,
        refunded_fen=0,
        description=description.strip(),
        status=PaymentStatus.pending,
        expires_at=expires_at,
    )
    session.add(payment)
    session.flush()
    return payment


def checkout_href(payment: Payment) -> str:
    """Where the payer pays: the cashier page (the sandbox's button, or WeChat Pay's code)."""
    return f"/payments/sandbox/{payment.out_trade_no}"


def payment_of(session: Session, payment_id: int | None) -> Payment | None:
    """A domain row's payment (its `payment_id`), if it has one."""
    return session.get(Payment, payment_id) if payment_id is not None else None


def payment_by_out_trade_no(session: Session, out_trade_no: str) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))


def close_payment(session: Session, payment: Payment) -> None:
    """pending → closed (expired or cancelled). Closing a closed payment changes nothing; a
    paid one cannot be closed (refund it)."""
    closed = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.pending)
        .values(status=PaymentStatus.closed, closed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(payment)
    if closed.rowcount == 0:  # type: ignore[attr-defined]
        if payment.status == PaymentStatus.closed:
            return
        raise Conflict(N_("This payment has already been paid; refund it instead"))
    audit.record(
        session,
        provider_actor(payment.provider),
        "payment.closed",
        "payment",
        payment.id,
        before={"status": PaymentStatus.pending},
        after={"status": PaymentStatus.closed},
    )


def close_payments(session: Session, payment_ids: list[int]) -> set[int]:
    """Close those of these payments still pending, in one statement (in id order, so that two
    callers lock the rows in the same order); answers the ids closed. A payment paid in the
    meantime stays paid and is not among them."""
    if not payment_ids:
        return set()
    closed = session.execute(
        update(Payment)
        .where(Payment.id.in_(sorted(payment_ids)), Payment.status == PaymentStatus.pending)
        .values(status=PaymentStatus.closed, closed_at=utcnow())
        .returning(Payment.id, Payment.provider)
        .execution_options(synchronize_session=False)
    ).all()
    if not closed:
        return set()
    audit.record_many(
        session,
        provider_actor(closed[0].provider),
        [
            audit.Change(
                "payment.closed",
                "payment",
                row.id,
                before={"status": PaymentStatus.pending},
                after={"status": PaymentStatus.closed},
            )
            for row in closed
        ],
    )
    return {row.id for row in closed}


def _pending_refunds_fen(session: Session, payment_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PaymentRefund.amount_fen), 0)).where(
                PaymentRefund.payment_id == payment_id,
                PaymentRefund.status == RefundStatus.pending,
            )
        )
        or 0
    )


def refund(
    session: Session, payment: Payment, *, amount_fen: int, reason: str, requested_by: int | None
) -> PaymentRefund:
    """Give back part or all of a paid payment. What is left to refund is counted under the
    payment's row lock (pending refunds included), so two refunds at once never exceed what
    was paid; the CHECK on `refunded_fen` is the last line."""
    if amount_fen <= 0:
        raise InvalidInput(
            N_("The amount to refund must be more than zero"),
            errors=[{"field": "amount_fen", "message": N_("must be more than zero")}],
        )
    if not reason.strip() or len(reason) > 80:
        raise InvalidInput(N_("A refund needs a reason of at most 80 characters"))
    locked = locked_payment(session, payment.id)
    if locked.status != PaymentStatus.paid:
        raise Conflict(N_("Only a paid payment can be refunded"))
    left = locked.amount_fen - locked.refunded_fen - _pending_refunds_fen(session, locked.id)
    if amount_fen > left:
        raise Conflict(
            N_("A refund larger than paid: at most ¥%(left)s can still be refunded"),
            left=fen_to_yuan(max(left, 0)),
        )
    made = PaymentRefund(
        payment_id=locked.id,
        out_refund_no="RF" + utcnow().strftime("%Y%m%d%H%M%S") + secrets.token_hex(8),
        amount_fen=amount_fen,
        reason=reason.strip(),
        status=RefundStatus.pending,
        requested_by=requested_by,
    )
    session.add(made)
    session.flush()
    actor = Principal(person_id=requested_by, name="system", via="system")
    audit.record(
        session,
        actor,
        "payment.refund_requested",
        "payment",
        locked.id,
        after={"refund_id": made.id, "amount_fen": amount_fen, "reason": made.reason},
    )
    notification = provider_named(locked.provider).request_refund(session, locked, made)
    if notification is not None:
        headers, body = notification
        handle_notification(session, locked.provider, headers, body)
    session.refresh(made)
    session.refresh(payment)
    return made
