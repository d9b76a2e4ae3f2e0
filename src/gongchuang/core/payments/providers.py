"""The payment providers: where the money goes, which keys vouch for its notifications.

Both speak the WeChat Pay APIv3 scheme (`wechatpay`): the sandbox with its own keys, made once
per installation, and WeChat Pay with the merchant's configured ones. A provider knows how to
verify and open a notification and how to ask for a refund; what a notification means is the
service's business (`service.handle_notification`), the same for both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, GongchuangError, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment, PaymentRefund
from gongchuang.core.payments import sandbox, wechatpay

SANDBOX = "sandbox"
WECHATPAY = "wechatpay"
API_BASE = "https://api.mch.weixin.qq.com"
TIMEOUT_SECONDS = 10.0


class ProviderUnavailable(GongchuangError):
    status_code = 502
    type_slug = "provider-unavailable"
    title = N_("The payment provider cannot be reached now; please try again later")


class Provider(Protocol):
    name: str

    def merchant_id(self, session: Session) -> str: ...

    def verification_keys(self, session: Session) -> Mapping[str, rsa.RSAPublicKey]: ...

    def apiv3_key(self, session: Session) -> bytes: ...

    def request_refund(
        self, session: Session, payment: Payment, refund: PaymentRefund
    ) -> tuple[dict[str, str], bytes] | None:
        """Ask for the refund. A notification to process at once (the sandbox refunds on the
        spot), or None: the provider will notify when the money is back."""
        ...


class SandboxProvider:
    name = SANDBOX

    def merchant_id(self, session: Session) -> str:
        return sandbox.SANDBOX_MCH_ID

    def verification_keys(self, session: Session) -> Mapping[str, rsa.RSAPublicKey]:
        keys = sandbox.sandbox_keys(session)
        return {keys.serial: keys.public_key}

    def apiv3_key(self, session: Session) -> bytes:
        return sandbox.sandbox_keys(session).apiv3_key

    def request_refund(
        self, session: Session, payment: Payment, refund: PaymentRefund
    ) -> tuple[dict[str, str], bytes] | None:
        return sandbox.sandbox_notification(session, payment, event="REFUND.SUCCESS", refund=refund)


class WeChatPayProvider:
    """WeChat Pay APIv3, enabled when every setting it needs is there (see config)."""

    name = WECHATPAY

    def enabled(self) -> bool:
        s = get_settings()
        return all(
            (
                s.wechatpay_mch_id,
                s.wechatpay_app_id,
                s.wechatpay_apiv3_key,
                s.wechatpay_private_key_path,
                s.wechatpay_certificate_serial,
                s.wechatpay_platform_public_key_path,
                s.wechatpay_platform_public_key_id,
            )
        )

    def _require(self) -> None:
        if not self.enabled():
            raise Conflict(N_("WeChat Pay is not configured on this server"))

    def merchant_id(self, session: Session) -> str:
        self._require()
        return str(get_settings().wechatpay_mch_id)

    def verification_keys(self, session: Session) -> Mapping[str, rsa.RSAPublicKey]:
        self._require()
        s = get_settings()
        path = s.wechatpay_platform_public_key_path
        if path is None or s.wechatpay_platform_public_key_id is None:
            return {}
        return {s.wechatpay_platform_public_key_id: wechatpay.load_public_key(path.read_text())}

    def apiv3_key(self, session: Session) -> bytes:
        self._require()
        return str(get_settings().wechatpay_apiv3_key).encode()

    def _post(self, url_path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A signed request to WeChat Pay. Refused or unreachable: ProviderUnavailable."""
        self._require()
        s = get_settings()
        key_path = s.wechatpay_private_key_path
        if key_path is None:
            raise Conflict(N_("WeChat Pay is not configured on this server"))
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        authorization = wechatpay.authorization_header(
            mch_id=str(s.wechatpay_mch_id),
            serial_no=str(s.wechatpay_certificate_serial),
            key=wechatpay.load_private_key(key_path.read_text()),
            method="POST",
            url_path=url_path,
            body=body,
            timestamp=int(utcnow().timestamp()),
            nonce=wechatpay.new_nonce(),
        )
        try:
            response = httpx.post(
                API_BASE + url_path,
                content=body.encode(),
                headers={
                    "Authorization": authorization,
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    "Wechatpay-Serial": str(s.wechatpay_platform_public_key_id),
                },
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable() from exc
        if response.status_code >= 300:
            raise ProviderUnavailable()
        data = response.json() if response.content else {}
        return data if isinstance(data, dict) else {}

    def order_payload(self, payment: Payment, notify_url: str) -> dict[str, Any]:
        s = get_settings()
        return {
            "appid": s.wechatpay_app_id,
            "mchid": s.wechatpay_mch_id,
            "description": payment.description,
            "out_trade_no": payment.out_trade_no,
            "time_expire": sandbox.rfc3339(payment.expires_at),
            "notify_url": notify_url,
            "amount": {"total": payment.amount_fen, "currency": "CNY"},
        }

    def native_code_url(self, payment: Payment) -> str:
        """The code_url the payer scans with WeChat (Native payment)."""
        data = self._post(
            "/v3/pay/transactions/native", self.order_payload(payment, self._notify_url())
        )
        return str(data.get("code_url", ""))

    def _notify_url(self) -> str:
        url = get_settings().wechatpay_notify_url
        if not url:
            raise Conflict(N_("WeChat Pay is not configured on this server"))
        return url

    def request_refund(
        self, session: Session, payment: Payment, refund: PaymentRefund
    ) -> tuple[dict[str, str], bytes] | None:
        self._post(
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": payment.out_trade_no,
                "out_refund_no": refund.out_refund_no,
                "reason": refund.reason,
                "notify_url": self._notify_url(),
                "amount": {
                    "refund": refund.amount_fen,
                    "total": payment.amount_fen,
                    "currency": "CNY",
                },
            },
        )
        return None


PROVIDERS: dict[str, Provider] = {SANDBOX: SandboxProvider(), WECHATPAY: WeChatPayProvider()}


def provider_named(name: str) -> Provider:
    found = PROVIDERS.get(name)
    if found is None:
        raise NotFound(N_("There is no payment provider of this name"))
    return found


def parse_time(value: object) -> datetime | None:
    """A provider's RFC 3339 time, or None when it is missing or not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
