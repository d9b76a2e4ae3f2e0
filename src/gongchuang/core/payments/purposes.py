"""Purposes: what domains take money for, and the handlers a payment calls back.

The core knows no domain: a module lists its purposes in its manifest (`payment_purposes`),
and activating the module registers them here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import events
from gongchuang.core.errors import Conflict
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment, PaymentRefund
from gongchuang.core.permissions import Principal
from gongchuang.core.topics import PAYMENT_TOPICS


@dataclass(frozen=True)
class PurposeHandlers:
    # Called in the notification's transaction, after the payment is marked paid.
    on_paid: Callable[[Session, Payment], None]
    # Called when a refund succeeds, after the payment's refunded amount is updated.
    on_refunded: Callable[[Session, Payment, PaymentRefund], None]
    # The page to send the payer back to.
    return_href: Callable[[Payment], str]


_purposes: dict[str, PurposeHandlers] = {}


def register_purpose(purpose: str, handlers: PurposeHandlers) -> None:
    """Idempotent: a module activated again (tests build many apps) replaces its handlers.
    Call it from the module's activation, not at import: it also makes the payment topics
    known (webhooks, the topic list), as a manifest's `publishes` would."""
    if not purpose or len(purpose) > 50:
        raise ValueError("a purpose is 1-50 characters")
    _purposes[purpose] = handlers
    for topic in PAYMENT_TOPICS:
        events.register_topic(topic)


def handlers_for(purpose: str) -> PurposeHandlers:
    found = _purposes.get(purpose)
    if found is None:
        raise Conflict(N_("No module takes payments for this purpose"))
    return found


def return_href(payment: Payment) -> str:
    found = _purposes.get(payment.purpose)
    return found.return_href(payment) if found is not None else "/"


def provider_actor(provider: str) -> Principal:
    return Principal(person_id=None, name=f"payments:{provider}", via="system")


def locked_payment(session: Session, payment_id: int) -> Payment:
    """The payment, re-read under a row lock (PostgreSQL; SQLite writes one at a time)."""
    return session.scalars(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
