"""The sandbox cashier: what its "pay" button does. It pays the way WeChat Pay would tell us a
payment was made: a signed, encrypted TRANSACTION.SUCCESS notification through
`handle_notification`, so the sandbox proves the same path the real money takes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment, PaymentStatus
from gongchuang.core.payments.notifications import handle_notification
from gongchuang.core.payments.providers import SANDBOX
from gongchuang.core.payments.sandbox import sandbox_notification
from gongchuang.core.payments.service import payment_by_out_trade_no


def payment_for_payer(session: Session, out_trade_no: str, payer_id: int | None) -> Payment:
    """The payment, if this payer may see it: a missing payment and someone else's are the
    same 404. A payment without a payer (an anonymous donation) is anyone's to pay."""
    payment = payment_by_out_trade_no(session, out_trade_no)
    if payment is None or (payment.payer_id is not None and payment.payer_id != payer_id):
        raise NotFound(N_("There is no such payment"))
    return payment


def is_expired(payment: Payment) -> bool:
    return payment.status == PaymentStatus.closed or (
        payment.status == PaymentStatus.pending and payment.expires_at <= utcnow()
    )


def sandbox_pay(session: Session, out_trade_no: str, *, payer_id: int | None) -> Payment:
    payment = payment_for_payer(session, out_trade_no, payer_id)
    if payment.provider != SANDBOX:
        raise Conflict(N_("This payment is not made in the sandbox"))
    if is_expired(payment):
        raise Conflict(N_("This payment has expired"))
    if payment.status != PaymentStatus.pending:
        raise Conflict(N_("This payment has already been paid"))
    headers, body = sandbox_notification(session, payment)
    handle_notification(session, SANDBOX, headers, body)
    session.refresh(payment)
    return payment
