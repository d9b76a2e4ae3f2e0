"""Tables of volunteer service (志愿服务).

Hours are a ledger (`HoursEntry`): verified minutes are only ever added, a correction is a
reversing entry. `VolunteerTotal` caches each volunteer's sum, moved in the same transaction as
the entry that explains it, so a star level is one row away even with millions of entries.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Base
from gongchuang.core.i18n import N_
from gongchuang.core.models import BigId, Organisation, Person


class Volunteer(Base):
    """A person registered for volunteer service, with what helps match them to activities."""

    __tablename__ = "volunteer_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    availability: Mapped[list[str]] = mapped_column(JSON, default=list)
    home_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    # Only with the volunteer's consent to location-based matching, and only for it.
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lng: Mapped[float | None] = mapped_column(Float)
    card_code: Mapped[str] = mapped_column(String(32), unique=True)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(lazy="raise")


class ActivityStatus(enum.StrEnum):
    open = "open"  # recruiting
    closed = "closed"  # recruitment closed; shifts still run
    cancelled = "cancelled"


ACTIVITY_STATUS_LABELS: dict[str, str] = {
    ActivityStatus.open: N_("Recruiting"),
    ActivityStatus.closed: N_("Recruitment closed"),
    ActivityStatus.cancelled: N_("Cancelled"),
}


class Activity(Base):
    __tablename__ = "volunteer_activity"
    __table_args__ = (Index("ix_volunteer_activity_status", "status", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_call.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    skills_wanted: Mapped[list[str]] = mapped_column(JSON, default=list)
    place: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    geofence_m: Mapped[int] = mapped_column(Integer, default=300)
    min_age: Mapped[int | None] = mapped_column(Integer)
    credential_kind: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(16), default=ActivityStatus.open)
    created_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class Shift(Base):
    __tablename__ = "volunteer_shift"
    __table_args__ = (
        CheckConstraint("taken >= 0 AND taken <= capacity", name="within_capacity"),
        Index("ix_volunteer_shift_time", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("volunteer_activity.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int] = mapped_column(Integer)
    # Confirmed places, moved only by a conditional UPDATE (never above capacity).
    taken: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)

    activity: Mapped[Activity] = relationship(lazy="raise")


class SignupStatus(enum.StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    cancelled = "cancelled"
    checked_in = "checked_in"
    checked_out = "checked_out"  # hours pending the organiser's approval
    verified = "verified"  # hours in the ledger
    no_show = "no_show"


SIGNUP_STATUS_LABELS: dict[str, str] = {
    SignupStatus.confirmed: N_("Confirmed"),
    SignupStatus.waitlisted: N_("On the waitlist"),
    SignupStatus.cancelled: N_("Cancelled"),
    SignupStatus.checked_in: N_("Checked in"),
    SignupStatus.checked_out: N_("Hours waiting for confirmation"),
    SignupStatus.verified: N_("Hours confirmed"),
    SignupStatus.no_show: N_("Did not come"),
}

ACTIVE_SIGNUP = (
    SignupStatus.confirmed,
    SignupStatus.waitlisted,
    SignupStatus.checked_in,
    SignupStatus.checked_out,
    SignupStatus.verified,
)


class Signup(Base):
    """报名: a volunteer's place (or waitlist place) on a shift, and what happened on the day."""

    __tablename__ = "volunteer_signup"
    __table_args__ = (
        Index("ix_volunteer_signup_shift_status", "shift_id", "status"),
        Index("ix_volunteer_signup_person", "person_id", "status"),
        # One live sign-up per volunteer and shift, held by the database: five requests sent at
        # once cannot take five places. A cancelled row may stay beside the live one.
        Index(
            "uq_volunteer_signup_active",
            "shift_id",
            "person_id",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("volunteer_shift.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    auto_checked_out: Mapped[bool] = mapped_column(Boolean, default=False)
    late_minutes: Mapped[int] = mapped_column(Integer, default=0)
    early_minutes: Mapped[int] = mapped_column(Integer, default=0)
    pending_minutes: Mapped[int] = mapped_column(Integer, default=0)
    check_method: Mapped[str] = mapped_column(String(16), default="")

    shift: Mapped[Shift] = relationship(lazy="raise")
    person: Mapped[Person] = relationship(lazy="raise")


class UsedCheckinCode(Base):
    """A rotating QR code serves each volunteer once: a screenshot cannot be replayed."""

    __tablename__ = "volunteer_used_code"
    __table_args__ = (UniqueConstraint("nonce", "person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class HoursEntryKind(enum.StrEnum):
    verified = "verified"  # the organiser confirmed the shift's hours
    correction = "correction"  # the right amount, after a reversal
    reversal = "reversal"  # takes back what was there before a correction


HOURS_ENTRY_LABELS: dict[str, str] = {
    HoursEntryKind.verified: N_("Confirmed"),
    HoursEntryKind.correction: N_("Correction"),
    HoursEntryKind.reversal: N_("Reversal"),
}


class HoursEntry(Base):
    """服务时长: the hours ledger, in minutes. Never updated, never deleted."""

    __tablename__ = "volunteer_hours_entry"
    __table_args__ = (
        Index("ix_volunteer_hours_person_time", "person_id", "created_at"),
        # A sign-up's hours are verified once; a correction is a reversal and a correction
        # entry after it, never a second verification.
        Index(
            "uq_volunteer_hours_entry_verified",
            "signup_id",
            unique=True,
            sqlite_where=text("kind = 'verified'"),
            postgresql_where=text("kind = 'verified'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_signup.id"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # a HoursEntryKind
    reason: Mapped[str] = mapped_column(String(300), default="")
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_hours_entry.id"))
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    served_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VolunteerTotal(Base):
    __tablename__ = "volunteer_total"
    __table_args__ = (CheckConstraint("minutes >= 0", name="not_negative"),)

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    completed_shifts: Mapped[int] = mapped_column(Integer, default=0)
    no_shows: Mapped[int] = mapped_column(Integer, default=0)


class StarScheme(Base):
    """Star-level thresholds in hours (the national scheme by default: 100/300/600/1000/1500)."""

    __tablename__ = "volunteer_star_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    thresholds: Mapped[list[int]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Certificate(Base):
    """A service certificate: what it says is frozen at issue, verifiable by its code."""

    __tablename__ = "volunteer_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    holder_name: Mapped[str] = mapped_column(String(100))
    organisation_name: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Benefit(Base):
    """数字化精准福利: what a partner offers volunteers of a star level or hours."""

    __tablename__ = "volunteer_benefit"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    min_star: Mapped[int] = mapped_column(Integer, default=0)
    min_hours: Mapped[int] = mapped_column(Integer, default=0)
    per_person_limit: Mapped[int] = mapped_column(Integer, default=1)
    quota: Mapped[int | None] = mapped_column(Integer)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    valid_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    partner: Mapped[Organisation] = relationship(lazy="raise")


class BenefitClaim(Base):
    __tablename__ = "volunteer_benefit_claim"
    __table_args__ = (Index("ix_volunteer_claim_person", "benefit_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    benefit_id: Mapped[int] = mapped_column(ForeignKey("volunteer_benefit.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
    used_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    benefit: Mapped[Benefit] = relationship(lazy="raise")


class Call(Base):
    """A mass mobilisation: many sites, many days, many shifts, filled by preference."""

    __tablename__ = "volunteer_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallVolunteer(Base):
    """A volunteer's answer to a call: when they can come and how far they will travel."""

    __tablename__ = "volunteer_call_volunteer"
    __table_args__ = (UniqueConstraint("call_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("volunteer_call.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    max_km: Mapped[float] = mapped_column(Float, default=10.0)
    # Shift start hours (local) the volunteer prefers, e.g. [8, 13]; empty: any.
    preferred_hours: Mapped[list[int]] = mapped_column(JSON, default=list)
    max_shifts: Mapped[int] = mapped_column(Integer, default=3)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    __tablename__ = "volunteer_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("volunteer_signup.id"), unique=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("volunteer_activity.id"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
