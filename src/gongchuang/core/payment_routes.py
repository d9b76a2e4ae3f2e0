"""Payments over HTTP: providers' notifications, the sandbox cashier's page and its API.

The notification endpoint is called by the provider, not a browser: no session, no CSRF token;
the WeChat Pay signature over the body is what vouches for it (`payments.handle_notification`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gongchuang.core import payments
from gongchuang.core.api import PROBLEMS
from gongchuang.core.errors import AuthenticationRequired, GongchuangError
from gongchuang.core.limits import KIB
from gongchuang.core.models import PAYMENT_STATUS_LABELS, Payment, PaymentStatus
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.payments.providers import PROVIDERS, WeChatPayProvider
from gongchuang.core.web import CsrfChecked, CurrentPrincipal, DbSession, LoggedIn, redirect, render

# A WeChat Pay notification is about 1 KB; anything near this is not one.
NOTIFICATION_BODY_BYTES = 64 * KIB

router = APIRouter(responses=PROBLEMS)
OutTradeNo = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-*]{6,32}$")]
ProviderName = Annotated[str, Path(pattern=r"^[a-z]{1,20}$")]


class PaymentOut(BaseModel):
    id: int
    out_trade_no: str
    status: str
    amount_fen: int
    refunded_fen: int
    paid_at: datetime | None
    purpose: str
    reference: str
    return_href: str


def payment_out(payment: Payment) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        out_trade_no=payment.out_trade_no,
        status=payment.status,
        amount_fen=payment.amount_fen,
        refunded_fen=payment.refunded_fen,
        paid_at=payment.paid_at,
        purpose=payment.purpose,
        reference=payment.reference,
        return_href=payments.return_href(payment),
    )


@router.post(
    "/api/v1/payments/notifications/{provider}",
    status_code=204,
    response_class=Response,
    tags=["payments"],
    # Refused with 413 before a byte of a larger body is read (core.limits).
    max_body_size=NOTIFICATION_BODY_BYTES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive_notification(
    request: Request, provider: ProviderName, session: DbSession
) -> Response:
    """A payment provider's notification (WeChat Pay APIv3: Wechatpay-Timestamp, -Nonce,
    -Signature, -Serial headers; an AEAD_AES_256_GCM resource). 204 when it is processed, and
    again for one already processed; a refusal changes nothing: 401 for a signature, timestamp
    or key refused, 400 for a body that cannot be read, 409 for an amount or payment that does
    not match."""
    body = await request.body()
    headers = dict(request.headers.items())
    await run_in_threadpool(payments.handle_notification, session, provider, headers, body)
    return Response(status_code=204)


@router.post("/api/v1/payments/sandbox/{out_trade_no}/pay", tags=["payments"])
def pay_in_sandbox(out_trade_no: OutTradeNo, session: DbSession, principal: LoggedIn) -> PaymentOut:
    """Pay a sandbox payment as the signed-in payer (no real money): what the sandbox cashier's
    button does. 409 for a payment that has expired, is closed or is already paid."""
    return payment_out(payments.sandbox_pay(session, out_trade_no, payer_id=principal.person_id))


def _cashier_payment(session: DbSession, principal: CurrentPrincipal, out_trade_no: str) -> Payment:
    payment = payments.payment_by_out_trade_no(session, out_trade_no)
    if payment is not None and payment.payer_id is not None and not principal.is_authenticated:
        raise AuthenticationRequired()
    return payments.payment_for_payer(session, out_trade_no, principal.person_id)


# Pages, not API: out of the OpenAPI document, as every page is.
@router.get(
    "/payments/sandbox/{out_trade_no}", response_class=HTMLResponse, include_in_schema=False
)
def cashier_page(
    request: Request, out_trade_no: OutTradeNo, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    payment = _cashier_payment(session, principal, out_trade_no)
    code_url, provider_problem = "", ""
    wechat = PROVIDERS.get(payment.provider)
    if (
        isinstance(wechat, WeChatPayProvider)
        and payment.status == PaymentStatus.pending
        and not payments.is_expired(payment)
    ):
        try:
            code_url = wechat.native_code_url(payment)
        except GongchuangError as exc:
            provider_problem = exc.detail()
    return render(
        request,
        "payments/cashier.html",
        {
            "payment": payment,
            "amount": "¥" + fen_to_yuan(payment.amount_fen),
            "refunded": "¥" + fen_to_yuan(payment.refunded_fen),
            "status_label": PAYMENT_STATUS_LABELS[PaymentStatus(payment.status)],
            "expired": payments.is_expired(payment),
            "payable": payment.status == PaymentStatus.pending and not payments.is_expired(payment),
            "sandbox": payment.provider == payments.SANDBOX,
            "code_url": code_url,
            "provider_problem": provider_problem,
            "return_href": payments.return_href(payment),
        },
    )


@router.post(
    "/payments/sandbox/{out_trade_no}", dependencies=[CsrfChecked], include_in_schema=False
)
def cashier_pay(
    out_trade_no: OutTradeNo, session: DbSession, principal: CurrentPrincipal
) -> RedirectResponse:
    _cashier_payment(session, principal, out_trade_no)
    payment = payments.sandbox_pay(session, out_trade_no, payer_id=principal.person_id)
    return redirect(payments.return_href(payment))
