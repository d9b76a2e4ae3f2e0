"""The volunteer service's input contract and the shapes of its API.

Each write takes one command model from here: the API takes it as its body, a page reads its
form into the same model, and the service works on it. `ActivityInput`, `ShiftInput`,
`ProfileInput`, `BenefitInput` and `Site` build the same commands in code (the demo, tests),
positionally as before, without validating them: the service checks what it is given either
way, with the same field messages.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AliasPath, BaseModel, ConfigDict, Field

from gongchuang.core.schemas import IdField


class ProfileIn(BaseModel):
    skills: list[str] = Field(default_factory=list, max_length=20)
    interests: list[str] = Field(default_factory=list, max_length=20)
    languages: list[str] = Field(default_factory=list, max_length=10)
    availability: list[str] = Field(default_factory=list, max_length=3)
    birth_date: date | None = None
    home_region_code: str | None = Field(None, pattern=r"^\d{6}(\d{6})?$")
    share_location: bool = Field(
        False, description="Consent to keep a home location, used only to match activities"
    )
    home_lat: float | None = Field(None, ge=-90, le=90)
    home_lng: float | None = Field(None, ge=-180, le=180)
    location_is_gcj02: bool = Field(False, description="Coordinates from Amap/Tencent maps")


class ProfileOut(BaseModel):
    person_id: int
    name: str
    real_name: bool
    skills: list[str]
    interests: list[str]
    languages: list[str]
    availability: list[str]
    birth_date: date | None
    shares_location: bool
    hours: float
    star: int
    completed_shifts: int
    no_shows: int
    card_url: str


class CardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    masked_name: str
    real_name: bool
    star: int
    hours: float
    since: date
    valid: bool


class ShiftIn(BaseModel):
    starts_at: datetime
    ends_at: datetime
    capacity: int = Field(ge=1, le=10_000)


class ActivityIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    category: str = Field(max_length=32)
    description: str = Field("", max_length=5000)
    place: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    location_is_gcj02: bool = False
    geofence_m: int = Field(300, ge=30, le=5000)
    min_age: int | None = Field(None, ge=0, le=100)
    credential_kind: str | None = Field(None, max_length=64)
    skills_wanted: list[str] = Field(default_factory=list, max_length=10)
    contact_name: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=20)


class ActivityCreate(ActivityIn):
    organisation_id: IdField
    shifts: list[ShiftIn] = Field(min_length=1, max_length=500)


class ShiftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    taken: int
    cancelled: bool


class ActivityOut(BaseModel):
    id: int
    organisation_id: int
    organisation_name: str
    title: str
    category: str
    description: str
    place: str
    lat: float
    lng: float
    geofence_m: int
    min_age: int | None
    credential_kind: str | None
    skills_wanted: list[str]
    status: str
    shifts: list[ShiftOut]


class RecommendationOut(BaseModel):
    activity: ActivityOut
    score: float


class SignupOut(BaseModel):
    # Read from the sign-up and its shift and activity (a comment, not a docstring: that would
    # change the published schema).
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: int
    shift_id: int
    activity_id: int = Field(validation_alias=AliasPath("shift", "activity_id"))
    activity_title: str = Field(validation_alias=AliasPath("shift", "activity", "title"))
    starts_at: datetime = Field(validation_alias=AliasPath("shift", "starts_at"))
    ends_at: datetime = Field(validation_alias=AliasPath("shift", "ends_at"))
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    auto_checked_out: bool
    late_minutes: int
    early_minutes: int
    pending_minutes: int


class CheckIn(BaseModel):
    code: str | None = Field(None, max_length=300, description="The QR code's text")
    shift_id: IdField | None = Field(None, description="For a check by location alone")
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    location_is_gcj02: bool = False


class CheckOut(BaseModel):
    action: Literal["in", "out"]
    signup: SignupOut


class CheckinCodeOut(BaseModel):
    code: str
    url: str
    valid_seconds: int


class HoursApproval(BaseModel):
    signup_ids: list[IdField] = Field(min_length=1, max_length=1000)
    minutes: int | None = Field(None, ge=0, le=1440, description="One signup, set by hand")
    reason: str = Field("", max_length=300)


class HoursCorrection(BaseModel):
    minutes: int = Field(ge=0, le=1440)
    reason: str = Field(min_length=1, max_length=300)


class HoursEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    signup_id: int | None
    minutes: int
    kind: str
    reason: str
    served_on: date
    created_at: datetime


class RosterRow(BaseModel):
    signup_id: int
    person_id: int
    name: str
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    pending_minutes: int
    late_minutes: int
    early_minutes: int
    auto_checked_out: bool
    reliability: int | None


class CertificateIn(BaseModel):
    period_from: date
    period_to: date
    organisation_id: IdField | None = None


class CertificateOut(BaseModel):
    id: int
    code: str
    hours: float
    period_from: date
    period_to: date
    organisation_name: str
    verify_url: str
    pdf_url: str


class CertificateCheck(BaseModel):
    holder: str = Field(description="Masked name")
    organisation_name: str
    hours: float
    period_from: date
    period_to: date
    issued_on: date
    valid: bool


class BenefitOffer(BaseModel):
    """What a partner offers: the terms of one benefit."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    min_star: int = Field(0, ge=0, le=10)
    min_hours: int = Field(0, ge=0, le=100_000)
    per_person_limit: int = Field(1, ge=1, le=1000)
    quota: int | None = Field(None, ge=1, le=1_000_000)
    valid_until: date | None = None


class BenefitIn(BenefitOffer):
    partner_organisation_id: IdField


class BenefitOut(BaseModel):
    id: int
    partner: str
    title: str
    description: str
    min_star: int
    min_hours: int
    per_person_limit: int
    quota: int | None
    claimed: int
    valid_until: date | None
    eligible: bool


class ClaimOut(BaseModel):
    id: int
    benefit_id: int
    title: str
    code: str
    claimed_at: datetime
    used_at: datetime | None


class ClaimUse(BaseModel):
    partner_organisation_id: IdField
    code: str = Field(min_length=4, max_length=16)


class FeedbackIn(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=1000)


class SiteIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class CallIn(BaseModel):
    organisation_id: IdField
    title: str = Field(min_length=1, max_length=200)
    category: str = Field(max_length=32)
    description: str = Field("", max_length=5000)
    sites: list[SiteIn] = Field(min_length=1, max_length=1000)
    first_day: date
    days: int = Field(ge=1, le=60)
    slots: list[tuple[int, int]] = Field(
        min_length=1, max_length=6, description="Start and end hours, e.g. [[8, 12], [13, 17]]"
    )
    capacity: int = Field(ge=1, le=10_000)


class CallAnswer(BaseModel):
    max_km: float = Field(10, ge=0.5, le=200)
    preferred_hours: list[int] = Field(default_factory=list, max_length=24)
    max_shifts: int = Field(3, ge=1, le=60)


class FillRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    activity_id: int
    site: str
    day: date
    capacity: int
    taken: int
    percent: int


class CallOut(BaseModel):
    id: int
    title: str
    category: str
    sites: int
    shifts: int
    capacity: int
    taken: int
    board: list[FillRowOut]


class FillOut(BaseModel):
    placed: int


class DashboardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    months: list[str]
    hours_by_month: list[float]
    active_by_month: list[int]
    total_hours: float
    volunteers: int
    retention: int | None
    no_show_rate: int | None
    rating: float | None


class StarsIn(BaseModel):
    thresholds: list[int] = Field(min_length=1, max_length=10)


class InviteIn(BaseModel):
    person_ids: list[IdField] = Field(min_length=1, max_length=500)


class CountOut(BaseModel):
    count: int


# --- commands built in code ---------------------------------------------------------------------


def ProfileInput(
    skills: list[str],
    interests: list[str],
    languages: list[str],
    availability: list[str],
    birth_date: date | None = None,
    home_region_code: str | None = None,
    home_lat: float | None = None,
    home_lng: float | None = None,
    location_is_gcj02: bool = False,
    share_location: bool = False,
) -> ProfileIn:
    return ProfileIn.model_construct(
        skills=skills,
        interests=interests,
        languages=languages,
        availability=availability,
        birth_date=birth_date,
        home_region_code=home_region_code,
        home_lat=home_lat,
        home_lng=home_lng,
        location_is_gcj02=location_is_gcj02,
        share_location=share_location,
    )


def ActivityInput(
    title: str,
    category: str,
    description: str,
    place: str,
    lat: float,
    lng: float,
    location_is_gcj02: bool = False,
    geofence_m: int = 300,
    min_age: int | None = None,
    credential_kind: str | None = None,
    skills_wanted: list[str] | None = None,
    contact_name: str = "",
    contact_phone: str = "",
) -> ActivityIn:
    return ActivityIn.model_construct(
        title=title,
        category=category,
        description=description,
        place=place,
        lat=lat,
        lng=lng,
        location_is_gcj02=location_is_gcj02,
        geofence_m=geofence_m,
        min_age=min_age,
        credential_kind=credential_kind,
        skills_wanted=skills_wanted or [],
        contact_name=contact_name,
        contact_phone=contact_phone,
    )


def ShiftInput(starts_at: datetime, ends_at: datetime, capacity: int) -> ShiftIn:
    return ShiftIn.model_construct(starts_at=starts_at, ends_at=ends_at, capacity=capacity)


def BenefitInput(
    title: str,
    description: str,
    min_star: int = 0,
    min_hours: int = 0,
    per_person_limit: int = 1,
    quota: int | None = None,
    valid_until: date | None = None,
) -> BenefitOffer:
    return BenefitOffer.model_construct(
        title=title,
        description=description,
        min_star=min_star,
        min_hours=min_hours,
        per_person_limit=per_person_limit,
        quota=quota,
        valid_until=valid_until,
    )


def Site(name: str, lat: float, lng: float) -> SiteIn:
    return SiteIn.model_construct(name=name, lat=lat, lng=lng)
