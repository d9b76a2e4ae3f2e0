"""The core's own events (the credential registry, payments): what a module may subscribe to,
and webhooks may carry."""

from __future__ import annotations

from datetime import datetime

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class CredentialIssued(Event):
    topic = "credential.issued"
    label = N_("A credential was issued")

    credential_id: int
    person_id: int
    kind: str
    organisation_id: int


class CredentialRevoked(Event):
    topic = "credential.revoked"
    label = N_("A credential was revoked")

    credential_id: int
    person_id: int
    organisation_id: int


class CredentialExpiring(Event):
    topic = "credential.expiring"
    label = N_("A credential expires soon")

    credential_id: int
    person_id: int
    kind: str
    valid_until: datetime
    organisation_id: int


class PaymentSucceeded(Event):
    """The provider confirmed the money: the purpose's `on_paid` has already run in the same
    transaction; subscribers hear of it after commit."""

    topic = "payment.succeeded"
    label = N_("A payment was received")

    payment_id: int
    out_trade_no: str
    purpose: str
    reference: str
    payer_id: int | None
    amount_fen: int
    paid_at: datetime


class PaymentRefunded(Event):
    topic = "payment.refunded"
    label = N_("A payment was refunded")

    payment_id: int
    refund_id: int
    out_trade_no: str
    purpose: str
    reference: str
    payer_id: int | None
    amount_fen: int  # this refund
    refunded_fen: int  # all refunds of the payment so far
    fully_refunded: bool


CORE_TOPICS: tuple[type[Event], ...] = (CredentialIssued, CredentialRevoked, CredentialExpiring)
# Registered when a domain registers a payment purpose (its manifest's activation), not on
# import: a platform without a module that takes money publishes none of them.
PAYMENT_TOPICS: tuple[type[Event], ...] = (PaymentSucceeded, PaymentRefunded)
