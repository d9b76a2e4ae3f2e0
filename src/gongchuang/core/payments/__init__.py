"""Payments, built once for every domain: one provider interface (the sandbox and WeChat Pay,
both in the WeChat Pay APIv3 notification scheme), refunds, and purposes that domains register
to be called back. See ARCHITECTURE.md, "Payments"."""

from __future__ import annotations

from gongchuang.core.models import Payment, PaymentRefund, PaymentStatus, RefundStatus
from gongchuang.core.payments.cashier import is_expired, payment_for_payer, sandbox_pay
from gongchuang.core.payments.notifications import APPLIED, DUPLICATE, handle_notification
from gongchuang.core.payments.providers import SANDBOX, WECHATPAY, ProviderUnavailable
from gongchuang.core.payments.purposes import PurposeHandlers, register_purpose, return_href
from gongchuang.core.payments.sandbox import sandbox_notification, sandbox_signed_headers
from gongchuang.core.payments.service import (
    checkout_href,
    close_payment,
    close_payments,
    payment_by_out_trade_no,
    payment_of,
    refund,
    start_payment,
)
from gongchuang.core.payments.wechatpay import MalformedNotification, SignatureRefused

__all__ = [
    "APPLIED",
    "DUPLICATE",
    "SANDBOX",
    "WECHATPAY",
    "MalformedNotification",
    "Payment",
    "PaymentRefund",
    "PaymentStatus",
    "ProviderUnavailable",
    "PurposeHandlers",
    "RefundStatus",
    "SignatureRefused",
    "checkout_href",
    "close_payment",
    "close_payments",
    "handle_notification",
    "is_expired",
    "payment_by_out_trade_no",
    "payment_for_payer",
    "payment_of",
    "refund",
    "register_purpose",
    "return_href",
    "sandbox_notification",
    "sandbox_pay",
    "sandbox_signed_headers",
    "start_payment",
]
