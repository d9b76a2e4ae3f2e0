"""Pydantic shapes of the core's REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
IdField = Annotated[int, Field(ge=1, le=MAX_ID)]


class RegionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str = Field(description="GB/T 2260 (6 digits) or statistical code (12 digits)")
    name: str
    level: str
    kind: str
    parent_id: int | None


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    region_id: int
    region_code: str
    region_name: str
    parent_id: int | None
    description: str


class PersonOut(BaseModel):
    id: int
    name: str
    phone: str = Field(description="Masked (138****0000) unless the caller may see contacts")
    phone_is_masked: bool
    resident_id: str | None = Field(None, description="Masked; only for the owner and staff")


class MembershipOut(BaseModel):
    id: int
    organisation_id: int
    person: PersonOut
    roles: list[str]
    title: str
    joined_at: datetime


class MembershipIn(BaseModel):
    phone: str = Field(min_length=1, max_length=20, examples=["13800000042"])
    name: str | None = Field(
        None, max_length=100, description="Registers the person first if the phone is new"
    )
    roles: list[str] = Field(default_factory=lambda: ["member"], max_length=20)
    title: str = Field("", max_length=100)


class OrganisationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=32, examples=["village_committee"])
    region_code: str = Field(pattern=r"^\d{6}(\d{6})?$", examples=["431322101201"])
    parent_id: IdField | None = None
    description: str = Field("", max_length=2000)


class RegistrationIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=1, max_length=20)
    password: str = Field(min_length=1, max_length=200)
    resident_id: str | None = Field(None, max_length=18)
    home_region_code: str | None = Field(None, pattern=r"^\d{6}(\d{6})?$")
    accept_privacy_policy: bool = Field(description="Must be true: consent is recorded (PIPL)")


class RolesIn(BaseModel):
    roles: list[str] = Field(min_length=1, max_length=20)


class MyMembershipOut(BaseModel):
    organisation_id: int
    organisation_name: str
    roles: list[str]


class MeOut(BaseModel):
    id: int
    name: str
    phone: str
    resident_id: str | None
    is_platform_admin: bool
    memberships: list[MyMembershipOut]
    consents: dict[str, bool]


class TokenRequest(BaseModel):
    phone: str = Field(min_length=1, max_length=20)
    password: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=50)
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown once, store it now")


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class CredentialIn(BaseModel):
    person_id: IdField
    kind: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    certificate_no: str = Field(min_length=1, max_length=64)
    valid_from: datetime
    valid_until: datetime | None = None
    evidence_file_id: IdField | None = None


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class CredentialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    kind: str
    title: str
    issuer_organisation_id: int
    certificate_no: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sha256: str
    size: int
    content_type: str
    original_name: str
    created_at: datetime


class WebhookIn(BaseModel):
    url: str = Field(min_length=1, max_length=500, examples=["https://example.org/hooks/120"])
    topics: list[str] = Field(min_length=1, max_length=50)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    url: str
    topics: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 key for X-Gongchuang-Signature; shown once")


class WebhookDeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    topic: str
    event_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_label: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    entry_hash: str | None  # None for a moment after commit, until the entry is chained


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    broken_entry_id: int | None
    reason: str
    waiting: int  # committed entries not chained yet


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, object]] | None = None


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=200)
    auth: str = Field(min_length=1, max_length=100)


class PushSubscriptionIn(BaseModel):
    """What the browser's PushSubscription.toJSON() returns."""

    endpoint: str = Field(min_length=1, max_length=1000)
    keys: PushKeys


class PushPublicKey(BaseModel):
    public_key: str | None = Field(
        description="VAPID applicationServerKey, base64url; null when push is off"
    )


M = TypeVar("M", bound=BaseModel)


def read_model(model: type[M], row: object, **extra: Any) -> M:
    """A read model filled from the row's attributes of the same names, and the fields that
    are computed given as keywords (a presenter that is more than a copy)."""
    names = [name for name in model.model_fields if name not in extra]
    return model.model_validate({**{name: getattr(row, name) for name in names}, **extra})
