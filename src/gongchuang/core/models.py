"""Tables of the platform core. Domains reach these only through core services."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Base
from gongchuang.core.i18n import N_

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class RegionLevel(enum.StrEnum):
    province = "province"
    city = "city"
    county = "county"
    town = "town"
    village = "village"


class Region(Base):
    """An administrative division. `code` is GB/T 2260 (6 digits) down to county, and the
    12-digit statistical code for towns and villages/communities."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    # The civil-affairs type: 省, 地级市, 市辖区, 县, 镇, 乡, 村, 社区 ...
    kind: Mapped[str] = mapped_column(String(32), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    # Materialised path of ancestor ids, "/1/7/42/", so a subtree is one LIKE prefix query.
    path: Mapped[str] = mapped_column(String(255), index=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id], lazy="raise")


class OrganisationKind(enum.StrEnum):
    village_committee = "village_committee"
    residents_committee = "residents_committee"
    ngo = "ngo"
    company = "company"
    school = "school"
    hospital = "hospital"
    dispatch_centre = "dispatch_centre"
    government_department = "government_department"
    platform = "platform"


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped[Region] = relationship(lazy="raise")


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Resident ID: never stored in clear. A keyed hash finds duplicates; the masked form shows.
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
    home_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentRecord(Base):
    """Append-only history of a person's consents (PIPL): the latest row per purpose rules."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("person_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(String(100), default="")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(lazy="raise")
    organisation: Mapped[Organisation] = relationship(lazy="raise")


class Credential(Base):
    """A certificate a person holds (e.g. first aid), issued by an organisation."""

    __tablename__ = "credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    issuer_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    certificate_no: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    evidence_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(500))
    # Renewal reminders already sent, by days-before-expiry ("60", "7"): once each.
    reminders_sent: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    issuer: Mapped[Organisation] = relationship(lazy="raise")
    person: Mapped[Person] = relationship(lazy="raise")


class WebSession(Base):
    __tablename__ = "web_session"

    # sha256 of the cookie value: a stolen database does not yield live sessions.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    revoked_at: Mapped[datetime | None]


class SignInThrottle(Base):
    """Wrong passwords counted by what they were tried with, never by account: a phone (from
    anywhere), a phone from one source, one source (any phone), a browser that has signed in
    before. Registered and unknown phones are counted alike, so the answers cannot tell them
    apart. `key` is a SHA-256 of the kind and value: no phone or address is kept in clear."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    wait_until: Mapped[datetime | None]


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One link of the hash chain. Rows are only ever inserted; `seq`, `prev_hash` and
    `entry_hash` are set once, when the sealer chains the committed entry (core/audit.py)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seq: Mapped[int | None] = mapped_column(BigId, unique=True)  # position in the chain
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_audit_entry_object", "object_type", "object_id"),)


class OutboxMessage(Base):
    """An event written in the transaction that caused it, dispatched after commit."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)
    # A subscriber that failed: retried with backoff, then parked (failed_at) for an operator,
    # so that one bad message never holds back the events behind it.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    retry_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """An in-app inbox item. Title and body are message ids rendered in the reader's language."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class NotificationDelivery(Base):
    """Each attempt to send a notification through an outside channel (SMS, push)."""

    __tablename__ = "notification_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PushSubscription(Base):
    """A browser's Web Push subscription (from PushManager.subscribe)."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_success_at: Mapped[datetime | None]


class JobStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class Job(Base):
    """A durable scheduled job. A worker leases it; its effects and its completion commit in one
    transaction, so a worker killed mid-run leaves no trace and the job runs again."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    lease_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_job_due", "status", "run_at"),)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    topic: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class StoredFile(Base):
    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    uploader_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeenSignature(Base):
    """A signed request accepted while its signature is within the tolerance window: the same
    signature again is a replay (unless it is the same request resent with its own
    Idempotency-Key). In the database, so that every worker agrees."""

    __tablename__ = "seen_signature"
    __table_args__ = (UniqueConstraint("scope", "digest", name="uq_seen_signature"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))  # who signed: e.g. "dispatch_centre:7"
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the signature header
    request_key: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LiveEvent(Base):
    """A live update announced by a committed transaction, kept for a few minutes: server
    processes follow this log on SQLite (so updates from any process reach open pages), and a
    reconnecting stream is sent what it missed by id (Last-Event-ID), on both databases."""

    __tablename__ = "live_event"
    # AUTOINCREMENT: SQLite would otherwise reuse the ids of pruned rows, and a follower that
    # reads `id > last` would never see the reused ones.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(100))
    data: Mapped[str] = mapped_column(Text)  # JSON, sent as the SSE data line as it is
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PaymentStatus(enum.StrEnum):
    pending = "pending"  # started, the payer has not paid yet
    paid = "paid"  # the provider confirmed the money (partial refunds keep this status)
    closed = "closed"  # expired or cancelled before any money arrived
    refunded = "refunded"  # every fen paid has been refunded


PAYMENT_STATUS_LABELS = {
    PaymentStatus.pending: N_("Waiting for payment"),
    PaymentStatus.paid: N_("Paid"),
    PaymentStatus.closed: N_("Closed"),
    PaymentStatus.refunded: N_("Refunded"),
}


class Payment(Base):
    """Money a person pays for something a domain offers (`purpose` + `reference`). The core
    knows no domain: it calls the purpose's handlers back when the provider confirms."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refunded_within_amount"
        ),
        Index("ix_payment_purpose_reference", "purpose", "reference"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    # WeChat's merchant order number: 6-32 characters of [A-Za-z0-9_-*].
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    purpose: Mapped[str] = mapped_column(String(50))
    reference: Mapped[str] = mapped_column(String(64))
    # None for anonymous payers (donations, later).
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    description: Mapped[str] = mapped_column(String(127))
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.pending)
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class RefundStatus(enum.StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


REFUND_STATUS_LABELS = {
    RefundStatus.pending: N_("Refund in progress"),
    RefundStatus.succeeded: N_("Refunded"),
    RefundStatus.failed: N_("Refund failed"),
}


class PaymentRefund(Base):
    __tablename__ = "payment_refund"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.pending)
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded_at: Mapped[datetime | None]


class PaymentNotification(Base):
    """A provider's notification, by its id, once: providers retry until answered, and the
    unique index lets exactly one of two racing copies take effect."""

    __tablename__ = "payment_notification"
    __table_args__ = (
        UniqueConstraint("provider", "notification_id", name="uq_payment_notification"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    notification_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(30))  # applied / duplicate / refused_amount ...
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentSandboxKey(Base):
    """The sandbox provider's keys, made once per installation and kept here so that every
    worker process signs and verifies with the same ones: an RSA-2048 "platform" key pair
    (private key PEM; the serial names it in Wechatpay-Serial) and the 32-byte APIv3 key."""

    __tablename__ = "payment_sandbox_key"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1: one key set
    platform_serial: Mapped[str] = mapped_column(String(64))
    private_key_pem: Mapped[str] = mapped_column(Text)
    apiv3_key: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
