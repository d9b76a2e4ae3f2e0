"""Helpers every part of the emergency service shares: Beijing time, the incident's
timeline and row lock, the status the 120 centre hears, and points checked on the way in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import events, geo, live
from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.errors import InvalidInput, PermissionDenied
from gongchuang.core.i18n import N_
from gongchuang.core.models import Membership, Person
from gongchuang.core.permissions import Principal
from gongchuang.emergency.models import (
    Alert,
    AlertStatus,
    DispatchCentre,
    Incident,
    IncidentEvent,
    Responder,
)
from gongchuang.topics.emergency import IncidentStatus

FIRST_AID = "first_aid"
OUTSIDE_CHINA = N_("The location is outside China or not a valid coordinate")
STATUS_TOPIC = IncidentStatus.topic


def acting_person_id(actor: Principal) -> int:
    """The person acting. Only a person answers alerts, goes on duty or raises an alarm: the
    system, or a token that is no one's, may not."""
    if actor.person_id is None:
        raise PermissionDenied()
    return actor.person_id


def member_by_phone(session: Session, organisation_id: int, phone: str) -> Person | None:
    """The member of an organisation with this phone number (an AED's guardian, a venue's
    responder); None when nobody with the number belongs to it."""
    person = session.scalar(select(Person).where(Person.phone == (phone or "").strip()))
    if person is None:
        return None
    member = session.scalar(
        select(Membership.id).where(
            Membership.person_id == person.id, Membership.organisation_id == organisation_id
        )
    )
    return person if member is not None else None


def incident_of(session: Session, alert: Alert) -> Incident:
    """The incident an alert belongs to (a foreign key: always there)."""
    incident = session.get(Incident, alert.incident_id)
    if incident is None:
        raise LookupError(f"alert {alert.id}: incident {alert.incident_id} is gone")
    return incident


def _shanghai(moment: datetime) -> datetime:
    """Beijing wall-clock time (opening hours and accept statistics are local)."""
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def _timeline(
    session: Session,
    incident: Incident,
    kind: str,
    person_id: int | None = None,
    **detail: Any,
) -> None:
    session.add(
        IncidentEvent(incident_id=incident.id, kind=kind, person_id=person_id, detail=detail)
    )
    live.announce(session, f"incident:{incident.id}", "changed", {"kind": kind})


def to_wgs84(lat: float, lng: float, crs: str, field: str = "location") -> tuple[float, float]:
    """Validate a point on the way in: finite, inside China, GCJ-02 converted to WGS-84."""
    point = geo.point_in_china(lat, lng, gcj02=crs == "GCJ02")
    if point is None:
        raise InvalidInput(
            OUTSIDE_CHINA,
            errors=[{"field": field, "message": N_("not a valid place in China")}],
        )
    return round(point.lat, 7), round(point.lng, 7)


def _centre_organisation_id(session: Session, incident: Incident) -> int | None:
    if incident.centre_id is None:
        return None
    return session.scalar(
        select(DispatchCentre.organisation_id).where(DispatchCentre.id == incident.centre_id)
    )


def _lock_incident(session: Session, incident_id: int) -> Incident | None:
    """The incident read afresh and row-locked until commit. Its status, waves and the
    statuses of its alerts change only under this lock (one incident's, never a shared one),
    so what a caller checks after taking it still holds when it acts. NO KEY UPDATE: rows
    that only point at the incident (timeline, progress) are not held up; on SQLite the
    writers are serialised already."""
    return session.scalars(
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _clear_location(responder: Responder) -> None:
    responder.on_duty = False
    responder.lat = responder.lng = None
    responder.duty_cell = None
    responder.located_at = None


def _publish_status(session: Session, incident: Incident, change: str) -> None:
    """Tell the 120 centre (through its signed webhooks) what changed."""
    organisation_id = _centre_organisation_id(session, incident)
    if organisation_id is None:
        return
    counts = dict(
        session.execute(
            select(Alert.status, func.count(Alert.id))
            .where(Alert.incident_id == incident.id)
            .group_by(Alert.status)
        ).all()
    )
    engaged = session.execute(
        select(
            func.min(Alert.eta_s), func.count(Alert.on_scene_at), func.count(Alert.at_aed_at)
        ).where(
            Alert.incident_id == incident.id,
            Alert.status.in_([AlertStatus.accepted, AlertStatus.released]),
        )
    ).one()
    events.publish(
        session,
        IncidentStatus(
            organisation_id=organisation_id,
            incident=incident.reference,
            external_id=incident.external_id,
            status=str(incident.status),
            change=change,
            alerted=sum(counts.values()),
            accepted=counts.get(AlertStatus.accepted, 0) + counts.get(AlertStatus.released, 0),
            declined=counts.get(AlertStatus.declined, 0),
            first_eta_s=engaged[0],
            on_scene=engaged[1],
            aed_picked_up=engaged[2],
            outcome=incident.outcome,
            at=utcnow(),
        ),
    )
