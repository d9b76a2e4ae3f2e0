"""Tables of social emergency response (社会化应急).

Places are WGS-84. Responders and AEDs carry a grid cell (`geo_cell`) so that "who is near this
point" is an indexed `IN` over a few cells on SQLite and PostgreSQL alike; a responder who is off
duty has no location and no cell at all, so they cannot be found.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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


class AedStatus(enum.StrEnum):
    active = "active"
    faulty = "faulty"  # reported broken: never sent for
    missing = "missing"
    retired = "retired"


AED_STATUS_LABELS = {
    AedStatus.active: N_("In service"),
    AedStatus.faulty: N_("Faulty"),
    AedStatus.missing: N_("Missing"),
    AedStatus.retired: N_("Retired"),
}


class Aed(Base):
    """An automated external defibrillator with a named guardian (after the UK register)."""

    __tablename__ = "emergency_aed"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    guardian_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    brand: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    serial: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    geo_cell: Mapped[int] = mapped_column(BigInteger, index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    indoor_directions: Mapped[str] = mapped_column(Text, default="")
    photo_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    # OpenStreetMap `opening_hours` ("24/7", "Mo-Fr 08:00-18:00; PH off"); None: not known,
    # as a missing OSM tag means (never taken as always open).
    opening_hours: Mapped[str | None] = mapped_column(String(200))
    # Keeps to China's working calendar (a school, an office): open as on a weekday on a
    # make-up working day (调休), closed as on a weekend on a public holiday.
    follows_workdays: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=AedStatus.active)
    battery_expires_on: Mapped[date | None] = mapped_column(Date)
    pads_expire_on: Mapped[date | None] = mapped_column(Date)
    last_inspected_on: Mapped[date | None] = mapped_column(Date)
    # {"battery": "2026-11-01", ...}: the last reminder of each kind, so one is sent per period.
    reminders_sent: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    osm_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class ResponderStatus(enum.StrEnum):
    invited = "invited"  # a venue or volunteer organisation asked; the person has not opted in
    active = "active"
    withdrawn = "withdrawn"


class Responder(Base):
    """A first-aider in the network. Location only while on duty, only for matching."""

    __tablename__ = "emergency_responder"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    # The venue (mall, campus) whose staff responder this is, or who invited them.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ResponderStatus.invited)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    duty_cell: Mapped[int | None] = mapped_column(BigInteger, index=True)
    located_at: Mapped[datetime | None]
    joined_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(lazy="raise")


class AcceptStat(Base):
    """How often a responder accepted alerts at each local hour: most alerts are ignored, so
    the likely ones are asked first."""

    __tablename__ = "emergency_accept_stat"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    alerted: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)


class DispatchCentre(Base):
    """A 120 dispatch centre that sends incidents through the API."""

    __tablename__ = "emergency_dispatch_centre"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(64))
    # Dispatch codes (prefixes, e.g. MPDS "09E") that start alerting without a human.
    auto_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Service area: an SOS or a venue's call inside it is also passed to this centre.
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    service_radius_km: Mapped[int] = mapped_column(Integer, default=50)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class MatchingPolicy(Base):
    """Matching settings for a region and everything under it (the nearest one applies)."""

    __tablename__ = "emergency_matching_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True)
    radius_m: Mapped[int] = mapped_column(Integer)
    max_responders: Mapped[int] = mapped_column(Integer)
    wave_size: Mapped[int] = mapped_column(Integer)
    wave_interval_s: Mapped[int] = mapped_column(Integer)
    target_accepted: Mapped[int] = mapped_column(Integer)
    direct_percent: Mapped[int] = mapped_column(Integer)
    aed_detour_percent: Mapped[int] = mapped_column(Integer)
    walking_speed_cm_s: Mapped[int] = mapped_column(Integer)
    detour_factor_percent: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentStatus(enum.StrEnum):
    logged = "logged"  # recorded; alerting waits for a dispatcher (code not in auto list)
    alerting = "alerting"
    closed = "closed"
    cancelled = "cancelled"


INCIDENT_STATUS_LABELS = {
    IncidentStatus.logged: N_("Recorded, not alerting"),
    IncidentStatus.alerting: N_("Alerting responders"),
    IncidentStatus.closed: N_("Closed"),
    IncidentStatus.cancelled: N_("Cancelled"),
}


class Incident(Base):
    __tablename__ = "emergency_incident"
    __table_args__ = (
        UniqueConstraint("centre_id", "idempotency_key", name="uq_emergency_incident_idempotency"),
        Index("ix_emergency_incident_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # dispatch | sos | venue
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("emergency_dispatch_centre.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    dispatch_code: Mapped[str] = mapped_column(String(16), default="")
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    reporter_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.logged)
    wave: Mapped[int] = mapped_column(Integer, default=0)
    policy: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    eido: Mapped[dict[str, object] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    alerting_at: Mapped[datetime | None]
    ambulance_eta_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Utstein-style: witnessed, bystander_cpr, aed_applied, shock_delivered, rosc, note.
    outcome: Mapped[dict[str, object] | None] = mapped_column(JSON)


class AlertStatus(enum.StrEnum):
    sent = "sent"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"  # the incident closed before an answer
    released = "released"  # accepted, then the incident closed: no longer engaged


ALERT_STATUS_LABELS = {
    AlertStatus.sent: N_("Waiting for an answer"),
    AlertStatus.accepted: N_("On the way"),
    AlertStatus.declined: N_("Declined"),
    AlertStatus.withdrawn: N_("No longer needed"),
    AlertStatus.released: N_("Finished"),
}


class Route(enum.StrEnum):
    direct = "direct"
    via_aed = "via_aed"


ROUTE_LABELS = {
    Route.direct: N_("Straight to the patient"),
    Route.via_aed: N_("Fetch the AED first"),
}


class Alert(Base):
    """One responder asked to help at one incident, and how they answered and moved."""

    __tablename__ = "emergency_alert"
    __table_args__ = (
        UniqueConstraint("incident_id", "person_id", name="uq_emergency_alert_person"),
        Index("ix_emergency_alert_person_status", "person_id", "status"),
        # A responder helps at one incident at a time, held by the database: two alerts
        # accepted at the same moment cannot both stand.
        Index(
            "uq_emergency_alert_accepted",
            "person_id",
            unique=True,
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("emergency_incident.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    wave: Mapped[int] = mapped_column(Integer)
    route: Mapped[str] = mapped_column(String(16), default=Route.direct)
    aed_id: Mapped[int | None] = mapped_column(ForeignKey("emergency_aed.id"))
    walk_m: Mapped[int] = mapped_column(Integer)
    eta_s: Mapped[int] = mapped_column(Integer)
    accept_likelihood: Mapped[float] = mapped_column(Float, default=0.5)
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.sent)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    at_aed_at: Mapped[datetime | None]
    on_scene_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    # Where the responder is while on the way: deleted after the retention period.
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    located_at: Mapped[datetime | None]

    incident: Mapped[Incident] = relationship(lazy="raise")
    person: Mapped[Person] = relationship(lazy="raise")
    aed: Mapped[Aed | None] = relationship(lazy="raise")


class IncidentEvent(Base):
    """The incident's timeline, append-only."""

    __tablename__ = "emergency_incident_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("emergency_incident.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


# What each kind of timeline entry says on the console.
TIMELINE_LABELS = {
    "received": N_("Incident received"),
    "wave": N_("Responders alerted"),
    "no_candidates": N_("No responder available nearby"),
    "accepted": N_("Responder accepted"),
    "declined": N_("Responder declined"),
    "at_aed": N_("AED picked up"),
    "on_scene": N_("Responder on scene"),
    "handed_over": N_("Handed over to the ambulance crew"),
    "ambulance_eta": N_("Ambulance arrival time entered"),
    "enough_accepted": N_("Enough responders accepted"),
    "closed": N_("Closed with an outcome"),
    "cancelled": N_("Cancelled"),
}


class PopulationPoint(Base):
    """A weighted place people are (census block centroid, venue, school) for coverage."""

    __tablename__ = "emergency_population_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    weight: Mapped[int] = mapped_column(Integer, default=1)
