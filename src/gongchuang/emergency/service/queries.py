"""Read-only queries that feed the pages, the API and the home page; nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gongchuang.core import geo, organisations
from gongchuang.core.models import Organisation, Person, Region
from gongchuang.core.permissions import Principal
from gongchuang.emergency import opening_hours
from gongchuang.emergency.models import (
    Aed,
    AedStatus,
    Alert,
    AlertStatus,
    Incident,
    IncidentEvent,
    IncidentStatus,
    Responder,
)
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.service.access import can_view
from gongchuang.emergency.service.aeds import aeds_near, worth_sending_for


@dataclass(frozen=True)
class PublicAed:
    """An AED as the public first-aid page shows it: open now (True) or hours unknown (False),
    and how far it is from where the person stands (None: a place was typed, not located)."""

    aed: Aed
    known_open: bool
    distance_m: int | None


PUBLIC_RADIUS_M = 3000


def aeds_for_a_bystander(
    session: Session,
    moment: datetime,
    *,
    near: tuple[float, float] | None = None,
    place: str = "",
    limit: int = 5,
) -> list[PublicAed]:
    """The AEDs someone who found a collapsed person can fetch now: near their position (the
    ones known to be open first, then those whose hours are unknown, each by distance), or
    whose address or venue matches a place they typed. Closed, expired and retired AEDs are
    left out: sending a bystander to a locked cabinet costs the patient minutes."""
    if near is not None:
        candidates = aeds_near(session, near[0], near[1], PUBLIC_RADIUS_M)
    else:
        text = place.strip()[:100]
        if not text:
            return []
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        candidates = list(
            session.scalars(
                select(Aed)
                .join(Organisation, Organisation.id == Aed.organisation_id)
                .where(or_(Aed.address.ilike(pattern), Organisation.name.ilike(pattern)))
                .order_by(Aed.id)
                .limit(200)
            )
        )
    found = []
    for aed in candidates:
        state = worth_sending_for(aed, moment)
        if state is None:
            continue
        distance = (
            round(geo.haversine_m(geo.Point(*near), geo.Point(aed.lat, aed.lng)))
            if near is not None
            else None
        )
        found.append(PublicAed(aed, state is opening_hours.Availability.open, distance))
    found.sort(key=lambda p: (not p.known_open, p.distance_m or 0))
    return found[:limit]


def aeds_on_the_map(session: Session, lat: float, lng: float, radius_m: float) -> list[Aed]:
    """The AEDs anyone may look up near a place, nearest first: all but the retired ones (a
    faulty or closed one is shown as such)."""
    return [a for a in aeds_near(session, lat, lng, radius_m) if a.status != AedStatus.retired]


def oversee_regions(session: Session, principal: Principal) -> list[Region]:
    """The regions whose coverage the principal may see, through the departments they staff."""
    ids = dict.fromkeys(
        o.region_id
        for o in organisations.organisations_with(session, principal, EmergencyPerm.OVERSEE)
    )
    return [r for r in (session.get(Region, i) for i in ids) if r is not None]


def owner_names(session: Session, aeds: Iterable[Aed]) -> dict[int, str]:
    """The owners' names of a list of AEDs, in one query."""
    ids = {a.organisation_id for a in aeds}
    return dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
        ).all()
    )


def aeds_of(session: Session, organisation: Organisation) -> list[Aed]:
    return list(
        session.scalars(select(Aed).where(Aed.organisation_id == organisation.id).order_by(Aed.id))
    )


def staff_responders(session: Session, venue: Organisation) -> list[tuple[Responder, Person]]:
    return list(
        session.execute(
            select(Responder, Person)
            .join(Person, Person.id == Responder.person_id)
            .where(Responder.organisation_id == venue.id)
            .order_by(Person.name)
        )
    )


def visible_incidents(
    session: Session, actor: Principal, *, open_only: bool, limit: int = 100
) -> list[Incident]:
    query = select(Incident).order_by(Incident.id.desc())
    if open_only:
        query = query.where(Incident.status.in_([IncidentStatus.logged, IncidentStatus.alerting]))
    found: list[Incident] = []
    decided: dict[int, bool] = {}
    for incident in session.scalars(query.limit(limit * 5)):
        if can_view(session, actor, incident, decided):
            found.append(incident)
            if len(found) >= limit:
                break
    return found


@dataclass
class IncidentPicture:
    incident: Incident
    alerts: list[tuple[Alert, str]]  # with the responder's name
    aeds: dict[int, Aed]
    timeline: list[IncidentEvent]


def picture(session: Session, incident: Incident) -> IncidentPicture:
    rows = [
        (alert, name)
        for alert, name in session.execute(
            select(Alert, Person.name)
            .join(Person, Person.id == Alert.person_id)
            .where(Alert.incident_id == incident.id)
            .order_by(Alert.wave, Alert.eta_s)
        )
    ]
    aed_ids = {a.aed_id for a, _ in rows if a.aed_id}
    nearby = {a.id: a for a in aeds_near(session, incident.lat, incident.lng, 1500)}
    for aed_id in aed_ids - nearby.keys():
        found = session.get(Aed, aed_id)
        if found:
            nearby[aed_id] = found
    timeline = list(
        session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.id)
        )
    )
    return IncidentPicture(incident, rows, nearby, timeline)


def my_alerts(session: Session, person_id: int, limit: int = 20) -> list[tuple[Alert, Incident]]:
    rows = session.execute(
        select(Alert, Incident)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(Alert.person_id == person_id)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return [(alert, incident) for alert, incident in rows]


def home_summary(session: Session, principal: Principal) -> list[tuple[Alert, Incident]] | None:
    """For a signed-in responder's home page: the alerts still open for them (unanswered or
    accepted, on an incident not yet closed), newest first."""
    if principal.person_id is None:
        return None
    rows = session.execute(
        select(Alert, Incident)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(
            Alert.person_id == principal.person_id,
            Alert.status.in_([AlertStatus.sent, AlertStatus.accepted]),
            Incident.status.in_([IncidentStatus.logged, IncidentStatus.alerting]),
        )
        .order_by(Alert.id.desc())
        .limit(5)
    )
    return [(alert, incident) for alert, incident in rows] or None


def alert_counts(session: Session, incident_ids: list[int]) -> dict[int, tuple[int, int]]:
    counts: dict[int, tuple[int, int]] = {}
    for incident_id, status, number in session.execute(
        select(Alert.incident_id, Alert.status, func.count(Alert.id))
        .where(Alert.incident_id.in_(incident_ids))
        .group_by(Alert.incident_id, Alert.status)
    ):
        alerted, accepted = counts.get(incident_id, (0, 0))
        counts[incident_id] = (
            alerted + number,
            accepted + (number if status in (AlertStatus.accepted, AlertStatus.released) else 0),
        )
    return counts
