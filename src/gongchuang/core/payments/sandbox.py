"""The sandbox provider's keys and notifications: no real money, the real scheme.

Its "platform" key pair and APIv3 key are made once per installation and kept in the database
(`PaymentSandboxKey`), so that every worker process signs and verifies with the same ones. Its
notifications are built by `wechatpay.build_notification`, exactly as WeChat Pay's are, and go
through the same `handle_notification` as a real one.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment, PaymentRefund, PaymentSandboxKey
from gongchuang.core.payments import wechatpay

SANDBOX_MCH_ID = "1900000000"
SANDBOX_APP_ID = "wxsandbox00000000"
SANDBOX_OPENID = "sandbox-payer"
_KEY_ROW = 1


@dataclass(frozen=True)
class SandboxKeys:
    serial: str
    private_key: rsa.RSAPrivateKey
    apiv3_key: bytes

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def sandbox_keys(session: Session) -> SandboxKeys:
    """This installation's sandbox keys, made on first use. Two processes making them at once:
    the primary key lets one insert, and the other reads what it stored."""
    row = session.get(PaymentSandboxKey, _KEY_ROW)
    if row is None:
        made = PaymentSandboxKey(
            id=_KEY_ROW,
            platform_serial="SANDBOX_" + secrets.token_hex(12).upper(),
            private_key_pem=wechatpay.private_key_pem(wechatpay.generate_private_key()),
            # 32 characters, used as 32 bytes, as a merchant's APIv3 key is.
            apiv3_key=secrets.token_hex(wechatpay.APIV3_KEY_BYTES // 2),
        )
        try:
            with session.begin_nested():
                session.add(made)
                session.flush()
            row = made
        except IntegrityError:
            row = session.scalars(
                select(PaymentSandboxKey)
                .where(PaymentSandboxKey.id == _KEY_ROW)
                .execution_options(populate_existing=True)
            ).one()
    return SandboxKeys(
        serial=row.platform_serial,
        private_key=wechatpay.load_private_key(row.private_key_pem),
        apiv3_key=row.apiv3_key.encode(),
    )


def rfc3339(moment: datetime) -> str:
    """A time as WeChat Pay writes it: Beijing time with its offset."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def sandbox_notification(
    session: Session,
    payment: Payment,
    *,
    event: str = "TRANSACTION.SUCCESS",
    amount_fen: int | None = None,
    refund: PaymentRefund | None = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a signed, encrypted sandbox notification for `payment`: a
    TRANSACTION.SUCCESS for its amount (or `amount_fen`), or a REFUND.SUCCESS for `refund`.
    Tests, the benchmark and an outside tester's client post these to the HTTP endpoint."""
    keys = sandbox_keys(session)
    now = utcnow()
    when = rfc3339(now)
    if event == "TRANSACTION.SUCCESS":
        total = payment.amount_fen if amount_fen is None else amount_fen
        resource: dict[str, object] = {
            "mchid": SANDBOX_MCH_ID,
            "appid": SANDBOX_APP_ID,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": payment.transaction_id or "4200" + secrets.token_hex(12),
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "sandbox",
            "bank_type": "OTHERS",
            "success_time": when,
            "amount": {
                "total": total,
                "payer_total": total,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
            "payer": {"openid": SANDBOX_OPENID},
            "attach": "",
        }
        original_type, summary = "transaction", "Payment succeeded"
    elif event.startswith("REFUND.") and refund is not None:
        refunded = refund.amount_fen if amount_fen is None else amount_fen
        resource = {
            "mchid": SANDBOX_MCH_ID,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": payment.transaction_id or "",
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.provider_refund_id or "5030" + secrets.token_hex(12),
            "refund_status": event.removeprefix("REFUND."),
            "success_time": when,
            "user_received_account": "sandbox",
            "amount": {
                "total": payment.amount_fen,
                "refund": refunded,
                "payer_total": payment.amount_fen,
                "payer_refund": refunded,
            },
        }
        original_type, summary = "refund", "Refund succeeded"
    else:
        raise InvalidInput(N_("The sandbox cannot make this notification"))
    return wechatpay.build_notification(
        key=keys.private_key,
        serial=keys.serial,
        apiv3_key=keys.apiv3_key,
        notification_id=str(uuid.uuid4()),
        create_time=when,
        event_type=event,
        summary=summary,
        original_type=original_type,
        resource=resource,
        timestamp=int(now.timestamp()) if timestamp is None else timestamp,
    )


def sandbox_signed_headers(
    session: Session, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """Headers that vouch for any body with the sandbox platform key (to test what the
    endpoint does with a body that is signed but not a notification)."""
    keys = sandbox_keys(session)
    moment = int(utcnow().timestamp()) if timestamp is None else timestamp
    return wechatpay.signed_headers(keys.private_key, keys.serial, body, timestamp=moment)
