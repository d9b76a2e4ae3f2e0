"""Social emergency response: every business rule of AEDs, responders, incidents and alerts.

An incident, once acknowledged to its sender, is committed before anything else can fail:
alerting runs inside a savepoint, and a durable job retries it if it did not finish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gongchuang.core import (
    audit,
    credentials,
    events,
    geo,
    jobs,
    live,
    notifications,
    organisations,
    people,
    regions,
    spreadsheets,
    webhooks,
)
from gongchuang.core.clock import SHANGHAI, local_today, utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from gongchuang.core.i18n import N_, shown_param, translatable
from gongchuang.core.models import Membership, Organisation, Person, Region
from gongchuang.core.permissions import SYSTEM, Principal, has_permission
from gongchuang.emergency import matching, opening_hours
from gongchuang.emergency.models import (
    AcceptStat,
    Aed,
    AedStatus,
    Alert,
    AlertStatus,
    DispatchCentre,
    Incident,
    IncidentEvent,
    IncidentStatus,
    MatchingPolicy,
    Responder,
    ResponderStatus,
    Route,
)
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import AedIn, CentreIn, EidoDocument, OutcomeIn, PolicyIn

log = logging.getLogger(__name__)
FIRST_AID = "first_aid"
LOCATION_PURPOSE = "emergency.responder_location"
# An on-duty location older than this is not trusted for matching; the phone refreshes it.
LOCATION_FRESH = timedelta(minutes=30)
# After this the responder is taken off duty and the location deleted.
LOCATION_TTL = timedelta(hours=12)
# Where responders walked during an incident, kept this long after it ends for the review.
TRACK_RETENTION = timedelta(days=1)
REMIND_BEFORE = timedelta(days=30)
INSPECTION_EVERY = timedelta(days=31)
# Waves keep coming (while too few accepted and the cap is not reached) for about 7 minutes.
MAX_WAVES = 10

KINDS = {
    "cardiac_arrest": N_("Cardiac arrest"),
    "unconscious": N_("Unconscious person"),
    "choking": N_("Choking"),
    "drowning": N_("Drowning"),
    "trauma": N_("Serious injury"),
    "other": N_("Other emergency"),
}
SOURCES = {"dispatch": N_("120 centre"), "sos": N_("SOS"), "venue": N_("Venue")}
STATUS_TOPIC = "emergency.incident_status"

people.register_consent_purpose(
    LOCATION_PURPOSE,
    N_(
        "Share my location while I am on duty as a first-aid responder, only to match me to "
        "emergencies nearby"
    ),
)
events.register_topic(STATUS_TOPIC, N_("An emergency incident changed (for the 120 centre)"))


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
            N_("The location is outside China or not a valid coordinate"),
            errors=[{"field": field, "message": "outside China or malformed"}],
        )
    return round(point.lat, 7), round(point.lng, 7)


# --- matching policy --------------------------------------------------------------------------


def policy_for(session: Session, region_id: int | None) -> tuple[matching.Policy, Region | None]:
    """The policy of the nearest region upwards that has one, else the defaults."""
    if region_id is not None:
        region = session.get(Region, region_id)
        chain = [region, *reversed(regions.ancestors(session, region))] if region else []
        rows = {
            row.region_id: row
            for row in session.scalars(
                select(MatchingPolicy).where(MatchingPolicy.region_id.in_([r.id for r in chain]))
            )
        }
        for item in chain:
            row = rows.get(item.id)
            if row is not None:
                values = {name: getattr(row, name) for name in matching.POLICY_FIELDS}
                return matching.Policy(**values), item
    return matching.Policy(), None


def can_oversee_region(session: Session, actor: Principal, region: Region) -> bool:
    if actor.is_platform_admin and actor.scope_allows(EmergencyPerm.OVERSEE):
        return True
    chain = {r.id for r in regions.ancestors(session, region)} | {region.id}
    return any(
        o.region_id in chain
        for o in organisations.organisations_with(session, actor, EmergencyPerm.OVERSEE)
    )


def set_policy(session: Session, actor: Principal, region: Region, values: PolicyIn) -> None:
    if not can_oversee_region(session, actor, region):
        raise NotFound()
    row = session.scalar(select(MatchingPolicy).where(MatchingPolicy.region_id == region.id))
    before = {n: getattr(row, n) for n in matching.POLICY_FIELDS} if row else None
    if row is None:
        row = MatchingPolicy(region_id=region.id)
        session.add(row)
    for name in matching.POLICY_FIELDS:
        setattr(row, name, getattr(values, name))
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "emergency.policy.set",
        "region",
        region.id,
        before=before,
        after=values.model_dump(),
    )


# --- AEDs -------------------------------------------------------------------------------------


# What each of aed_problems' codes says to the venue's staff (the API gives the codes).
AED_PROBLEMS = {
    AedStatus.faulty.value: N_("Reported faulty"),
    AedStatus.missing.value: N_("Reported missing"),
    AedStatus.retired.value: N_("Retired"),
    "battery_expired": N_("Battery expired"),
    "pads_expired": N_("Pads expired"),
}


def aed_problems_in_words(codes: list[str]) -> str:
    return shown_param(translatable(*(AED_PROBLEMS.get(code, code) for code in codes)))


def aed_problems(aed: Aed, today: date) -> list[str]:
    """Why an AED must not be sent for now (apart from its opening hours), as codes (see
    AED_PROBLEMS)."""
    problems = []
    if aed.status != AedStatus.active:
        problems.append(str(aed.status))
    if aed.battery_expires_on is not None and aed.battery_expires_on < today:
        problems.append("battery_expired")
    if aed.pads_expire_on is not None and aed.pads_expire_on < today:
        problems.append("pads_expired")
    return problems


def hours_now(aed: Aed, moment: datetime) -> opening_hours.Availability:
    """Open, closed or unknown at `moment` by the AED's opening hours alone."""
    return opening_hours.availability(
        aed.opening_hours, moment, follows_workdays=aed.follows_workdays
    )


def usable_at(aed: Aed, moment: datetime) -> bool:
    """In service, in date and known to be open."""
    return not aed_problems(aed, _shanghai(moment).date()) and (
        hours_now(aed, moment) is opening_hours.Availability.open
    )


def worth_sending_for(aed: Aed, moment: datetime) -> opening_hours.Availability | None:
    """Whether a responder may be sent for this AED now: open, or hours unknown (sent only
    when no AED known to be open lies on the way, and told so); None: not at all."""
    if aed_problems(aed, _shanghai(moment).date()):
        return None
    state = hours_now(aed, moment)
    return None if state is opening_hours.Availability.closed else state


def _check_aed(
    session: Session, data: AedIn, organisation: Organisation
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    errors: list[dict[str, str]] = []
    values: dict[str, Any] = data.model_dump(exclude={"lat", "lng", "crs", "guardian_phone"})
    try:
        values["lat"], values["lng"] = to_wgs84(data.lat, data.lng, data.crs)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    values["opening_hours"] = " ".join((data.opening_hours or "").split()) or None
    problem = opening_hours.problem(values["opening_hours"])
    if problem:
        errors.append(
            {
                "field": "opening_hours",
                "message": f"not OpenStreetMap opening_hours ({problem}); e.g. Mo-Fr 08:00-18:00",
            }
        )
    values["guardian_person_id"] = None
    if data.guardian_phone:
        guardian = session.scalar(select(Person).where(Person.phone == data.guardian_phone))
        member = guardian is not None and session.scalar(
            select(Membership.id).where(
                Membership.person_id == guardian.id,
                Membership.organisation_id == organisation.id,
            )
        )
        if not member:
            errors.append(
                {
                    "field": "guardian_phone",
                    "message": "the guardian must be a member of the owner organisation",
                }
            )
        else:
            assert guardian is not None
            values["guardian_person_id"] = guardian.id
    return values, errors


def create_aed(session: Session, actor: Principal, organisation: Organisation, data: AedIn) -> Aed:
    values, errors = _check_aed(session, data, organisation)
    if errors:
        raise InvalidInput(N_("Some details of the AED are not valid"), errors=errors)
    aed = Aed(
        organisation_id=organisation.id,
        geo_cell=matching.geo_cell(values["lat"], values["lng"]),
        **values,
    )
    session.add(aed)
    session.flush()
    audit.record(
        session, actor, "emergency.aed.create", "emergency_aed", aed.id, after=_aed_snapshot(aed)
    )
    return aed


def _aed_snapshot(aed: Aed) -> dict[str, Any]:
    return audit.snapshot(
        aed,
        [
            "organisation_id",
            "brand",
            "model",
            "serial",
            "lat",
            "lng",
            "address",
            "opening_hours",
            "follows_workdays",
            "status",
            "battery_expires_on",
            "pads_expire_on",
            "last_inspected_on",
            "guardian_person_id",
        ],
    )


def update_aed(session: Session, actor: Principal, aed: Aed, data: AedIn) -> Aed:
    organisation = organisations.get_organisation(session, aed.organisation_id)
    values, errors = _check_aed(session, data, organisation)
    if errors:
        raise InvalidInput(N_("Some details of the AED are not valid"), errors=errors)
    before = _aed_snapshot(aed)
    for name, value in values.items():
        setattr(aed, name, value)
    aed.geo_cell = matching.geo_cell(aed.lat, aed.lng)
    aed.updated_at = utcnow()
    if data.last_inspected_on and (
        before["last_inspected_on"] != data.last_inspected_on.isoformat()
    ):
        aed.reminders_sent = {
            k: v for k, v in (aed.reminders_sent or {}).items() if k != "inspection"
        }
    audit.record(
        session,
        actor,
        "emergency.aed.update",
        "emergency_aed",
        aed.id,
        before=before,
        after=_aed_snapshot(aed),
    )
    return aed


def get_aed_for(session: Session, actor: Principal, aed_id: int) -> Aed:
    """An AED its owner (or a platform admin) may change."""
    aed = session.get(Aed, aed_id)
    if aed is None:
        raise NotFound()
    organisation = organisations.get_organisation(session, aed.organisation_id)
    if not has_permission(session, actor, EmergencyPerm.VENUE, organisation):
        raise NotFound()
    return aed


def aeds_of(session: Session, organisation: Organisation) -> list[Aed]:
    return list(
        session.scalars(select(Aed).where(Aed.organisation_id == organisation.id).order_by(Aed.id))
    )


def aeds_near(session: Session, lat: float, lng: float, radius_m: float) -> list[Aed]:
    """AEDs on the register within the radius (any status), nearest first."""
    rows = list(
        session.scalars(
            select(Aed).where(Aed.geo_cell.in_(matching.cells_around(lat, lng, radius_m)))
        )
    )
    if not rows:
        return []
    distances = matching.haversine_many(
        lat, lng, np.array([a.lat for a in rows]), np.array([a.lng for a in rows])
    )
    return [rows[i] for i in np.argsort(distances) if distances[i] <= radius_m]


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


def owner_names(session: Session, aeds: Iterable[Aed]) -> dict[int, str]:
    """The owners' names of a list of AEDs, in one query."""
    ids = {a.organisation_id for a in aeds}
    return dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
        ).all()
    )


def aeds_to_send_for(
    session: Session, lat: float, lng: float, radius_m: float, moment: datetime
) -> list[tuple[Aed, bool]]:
    """AEDs near a point a responder may fetch now, each with whether it is known to be open
    (the others' hours are unknown)."""
    found = []
    for aed in aeds_near(session, lat, lng, radius_m):
        state = worth_sending_for(aed, moment)
        if state is not None:
            found.append((aed, state is opening_hours.Availability.open))
    return found


# Columns of the AED CSV, and the OpenStreetMap tags the same fields have in GeoJSON.
AED_COLUMNS = [
    "lat",
    "lng",
    "crs",
    "brand",
    "model",
    "serial",
    "address",
    "indoor_directions",
    "opening_hours",
    "follows_workdays",
    "status",
    "battery_expires_on",
    "pads_expire_on",
    "last_inspected_on",
    "guardian_phone",
]
AED_HEADERS = {
    name: (name, *spellings)
    for name, spellings in {
        "lat": ("latitude", "纬度"),
        "lng": ("lon", "longitude", "经度"),
        "crs": ("坐标系",),
        "brand": ("品牌",),
        "model": ("型号",),
        "serial": ("序列号",),
        "address": ("地址",),
        "indoor_directions": ("室内位置",),
        "opening_hours": ("开放时间",),
        "follows_workdays": ("按工作日开放",),
        "status": ("状态",),
        "battery_expires_on": ("电池有效期",),
        "pads_expire_on": ("电极片有效期",),
        "last_inspected_on": ("最近检查",),
        "guardian_phone": ("管理人手机号",),
    }.items()
}
OSM_TAGS = {
    "manufacturer": "brand",
    "model": "model",
    "ref": "serial",
    "addr:full": "address",
    "defibrillator:location": "indoor_directions",
    "defibrillator:location:zh": "indoor_directions",
    "opening_hours": "opening_hours",
    "check_date": "last_inspected_on",
}


def _rows_from_geojson(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
        features = document["features"] if document.get("type") == "FeatureCollection" else None
    except (ValueError, AttributeError, KeyError, TypeError, RecursionError):
        features = None
    if not isinstance(features, list):
        raise InvalidInput(N_("The file is not a GeoJSON FeatureCollection"))
    rows = []
    for number, feature in enumerate(features, start=1):
        # Anything that is not an object counts as empty: "needs a location", not a 500.
        feature = feature if isinstance(feature, dict) else {}
        geometry = g if isinstance(g := feature.get("geometry"), dict) else {}
        tags = t if isinstance(t := feature.get("properties"), dict) else {}
        row: dict[str, Any] = {"_id": str(feature.get("id") or tags.get("@id") or "")[:60]}
        if (
            geometry.get("type") == "Point"
            and isinstance(geometry.get("coordinates"), list)
            and len(geometry["coordinates"]) >= 2
        ):
            row["lng"], row["lat"] = geometry["coordinates"][:2]
        for tag, name in OSM_TAGS.items():
            if tags.get(tag) not in (None, ""):
                row[name] = str(tags[tag])
        for name in AED_COLUMNS:
            if name in tags and name not in row:
                row[name] = tags[name]
        if tags.get("emergency", "defibrillator") != "defibrillator":
            row["_not_aed"] = True
        rows.append((number, row))
    return rows


def import_aeds(
    session: Session, actor: Principal, organisation: Organisation, data: bytes, filename: str
) -> int:
    """CSV/Excel (columns as exported) or GeoJSON with OSM tags: all rows or none."""
    geojson = filename.lower().endswith((".geojson", ".json"))
    if geojson:
        rows = _rows_from_geojson(data)
    else:
        sheet = spreadsheets.read_rows(data, filename, AED_HEADERS, set())
        rows = [(r.line, {k: v for k, v in r.values.items() if v != ""}) for r in sheet]
    if not rows:
        raise InvalidInput(N_("The file has no AEDs in it"))
    errors: list[dict[str, Any]] = []
    checked: list[AedIn] = []
    for line, row in rows:
        if row.pop("_not_aed", False):
            errors.append(
                {"row": line, "field": "emergency", "message": "not emergency=defibrillator"}
            )
            continue
        if "lat" not in row or "lng" not in row:
            errors.append({"row": line, "field": "location", "message": "an AED needs a location"})
            continue
        if "last_inspected_on" in row:
            row["last_inspected_on"] = str(row["last_inspected_on"])[:10]
        if row.get("crs"):
            row["crs"] = str(row["crs"]).upper().replace("-", "")
        if str(row.get("follows_workdays", "")).strip() in ("是", "否"):
            row["follows_workdays"] = row["follows_workdays"].strip() == "是"
        try:
            item = AedIn.model_validate(row)
        except ValidationError as exc:
            errors.extend(
                {"row": line, "field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            )
            continue
        _, problems = _check_aed(session, item, organisation)
        errors.extend({"row": line, **p} for p in problems)
        checked.append(item)
    if errors:
        # Each bad row named as its file knows it: feature and OSM id, or line and serial.
        known_as = {line: row.get("_id") or row.get("serial") for line, row in rows}
        for error in errors:
            error["feature" if geojson else "line"] = error["row"]
            error["id"] = known_as.get(error["row"]) or None
        raise InvalidInput(N_("Some rows are not valid; nothing was imported"), errors=errors[:200])
    for item in checked:
        create_aed(session, actor, organisation, item)
    return len(checked)


def aed_csv_rows(aeds: Iterable[Aed], phones: dict[int, str]) -> list[list[object]]:
    return [
        [
            a.lat,
            a.lng,
            "WGS84",
            a.brand,
            a.model,
            a.serial,
            a.address,
            a.indoor_directions,
            a.opening_hours or "",
            "yes" if a.follows_workdays else "no",
            a.status,
            a.battery_expires_on or "",
            a.pads_expire_on or "",
            a.last_inspected_on or "",
            phones.get(a.guardian_person_id or 0, ""),
        ]
        for a in aeds
    ]


def aed_geojson(aeds: Iterable[Aed]) -> dict[str, Any]:
    """The register as GeoJSON with OpenStreetMap `emergency=defibrillator` tags."""
    features = []
    for a in aeds:
        tags: dict[str, Any] = {"emergency": "defibrillator", "ref:gongchuang": str(a.id)}
        for tag, name in OSM_TAGS.items():
            value = getattr(a, name)
            if value not in (None, "") and tag != "defibrillator:location:zh":
                tags[tag] = value.isoformat() if isinstance(value, date) else value
        tags["status"] = a.status
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [a.lng, a.lat]},
                "properties": tags,
            }
        )
    return {"type": "FeatureCollection", "features": features}


# --- responders -------------------------------------------------------------------------------


def get_responder(session: Session, person_id: int | None) -> Responder | None:
    if person_id is None:
        return None
    return session.scalar(select(Responder).where(Responder.person_id == person_id))


def holds_first_aid(session: Session, person_id: int) -> bool:
    return bool(credentials.holders(session, FIRST_AID, [person_id]))


def join_network(session: Session, actor: Principal) -> Responder:
    assert actor.person_id is not None
    if not holds_first_aid(session, actor.person_id):
        raise InvalidInput(
            N_("Only people with a valid first-aid certificate can join the responder network")
        )
    responder = get_responder(session, actor.person_id)
    if responder is None:
        responder = Responder(person_id=actor.person_id)
        session.add(responder)
    if responder.status != ResponderStatus.active:
        responder.status = ResponderStatus.active
        responder.joined_at = utcnow()
        session.flush()
        audit.record(
            session, actor, "emergency.responder.join", "emergency_responder", responder.id
        )
    return responder


def _clear_location(responder: Responder) -> None:
    responder.on_duty = False
    responder.lat = responder.lng = None
    responder.duty_cell = None
    responder.located_at = None


def set_duty(
    session: Session,
    actor: Principal,
    on_duty: bool,
    point: tuple[float, float, str] | None = None,
    consent_location: bool = False,
) -> Responder:
    assert actor.person_id is not None
    responder = get_responder(session, actor.person_id)
    if responder is None or responder.status != ResponderStatus.active:
        raise InvalidInput(N_("Join the responder network first"))
    if not on_duty:
        if responder.on_duty:
            _clear_location(responder)
            audit.record(
                session, actor, "emergency.responder.off_duty", "emergency_responder", responder.id
            )
        return responder
    if not holds_first_aid(session, actor.person_id):
        raise InvalidInput(
            N_("Your first-aid certificate is no longer valid; renew it to go on duty")
        )
    person = people.get_person(session, actor.person_id)
    if consent_location:
        people.set_consent(session, actor, person, LOCATION_PURPOSE, True)
    if not people.has_consent(session, actor.person_id, LOCATION_PURPOSE):
        raise InvalidInput(
            N_("Going on duty shares your location for matching; please agree to that first"),
            errors=[{"field": "consent_location", "message": "required"}],
        )
    if point is None:
        raise InvalidInput(
            N_("Your location is needed to go on duty"),
            errors=[{"field": "location", "message": "required"}],
        )
    lat, lng = to_wgs84(*point)
    was_on = responder.on_duty
    responder.on_duty = True
    responder.lat, responder.lng = lat, lng
    responder.duty_cell = matching.geo_cell(lat, lng)
    responder.located_at = utcnow()
    if not was_on:
        # The place itself is not written to the audit chain: it is kept only while on duty.
        audit.record(
            session, actor, "emergency.responder.on_duty", "emergency_responder", responder.id
        )
    return responder


def withdraw(session: Session, actor: Principal) -> Responder:
    responder = get_responder(session, actor.person_id)
    if responder is None:
        raise NotFound()
    _clear_location(responder)
    responder.status = ResponderStatus.withdrawn
    audit.record(
        session, actor, "emergency.responder.withdraw", "emergency_responder", responder.id
    )
    return responder


def invite(
    session: Session, actor: Principal, organisation: Organisation, person_id: int
) -> Responder:
    """A venue registers one of its staff (or a volunteer organisation invites a first-aider):
    the person still opts in themselves, since it is their location."""
    responder = get_responder(session, person_id)
    if responder is None:
        responder = Responder(person_id=person_id, organisation_id=organisation.id)
        session.add(responder)
    elif responder.organisation_id is None:
        responder.organisation_id = organisation.id
    session.flush()
    if responder.status != ResponderStatus.active:
        responder.status = ResponderStatus.invited
        notifications.notify(
            session,
            person_id,
            kind="emergency.invite",
            title=N_("You are invited to join the first-aid responder network"),
            body=organisation.name,
            link="/emergency",
        )
    audit.record(
        session,
        actor,
        "emergency.responder.invite",
        "emergency_responder",
        responder.id,
        after={"organisation_id": organisation.id},
    )
    return responder


def invite_staff(session: Session, actor: Principal, venue: Organisation, phone: str) -> Responder:
    if not has_permission(session, actor, EmergencyPerm.VENUE, venue):
        raise NotFound()
    person = session.scalar(select(Person).where(Person.phone == (phone or "").strip()))
    member = person is not None and session.scalar(
        select(Membership.id).where(
            Membership.person_id == person.id, Membership.organisation_id == venue.id
        )
    )
    if not member:
        raise InvalidInput(
            N_("Only members of your organisation can be registered as its responders"),
            errors=[{"field": "phone", "message": "not a member"}],
        )
    assert person is not None
    if not holds_first_aid(session, person.id):
        raise InvalidInput(
            N_("This person has no valid first-aid certificate"),
            errors=[{"field": "phone", "message": "no valid first-aid credential"}],
        )
    return invite(session, actor, venue, person.id)


def staff_responders(session: Session, venue: Organisation) -> list[tuple[Responder, Person]]:
    return list(
        session.execute(
            select(Responder, Person)
            .join(Person, Person.id == Responder.person_id)
            .where(Responder.organisation_id == venue.id)
            .order_by(Person.name)
        )
    )


@events.subscribe("volunteer.responder_invited")
def _on_volunteer_invite(session: Session, message: Any) -> None:
    organisation = session.get(Organisation, message.payload["organisation_id"])
    if organisation is not None and session.get(Person, message.payload["person_id"]) is not None:
        invite(session, SYSTEM, organisation, message.payload["person_id"])


# --- dispatch centres -------------------------------------------------------------------------


def centre_of(session: Session, organisation: Organisation) -> DispatchCentre | None:
    return session.scalar(
        select(DispatchCentre).where(DispatchCentre.organisation_id == organisation.id)
    )


def save_centre(
    session: Session, actor: Principal, organisation: Organisation, data: CentreIn
) -> tuple[DispatchCentre, str | None]:
    """Create or change the organisation's centre. Returns the secret when newly made."""
    if not has_permission(session, actor, EmergencyPerm.DISPATCH, organisation):
        raise NotFound()
    lat, lng = to_wgs84(data.lat, data.lng, data.crs)
    centre = centre_of(session, organisation)
    clash = session.scalar(select(DispatchCentre.id).where(DispatchCentre.code == data.code))
    if clash is not None and (centre is None or clash != centre.id):
        raise InvalidInput(
            N_("This centre code is taken"), errors=[{"field": "code", "message": "taken"}]
        )
    secret = None
    if centre is None:
        secret = secrets.token_hex(32)
        centre = DispatchCentre(organisation_id=organisation.id, secret=secret)
        session.add(centre)
    centre.code, centre.name = data.code, data.name
    centre.auto_codes = sorted({c.strip().upper() for c in data.auto_codes if c.strip()})
    centre.lat, centre.lng, centre.service_radius_km = lat, lng, data.service_radius_km
    session.flush()
    audit.record(
        session,
        actor,
        "emergency.centre.save",
        "emergency_dispatch_centre",
        centre.id,
        after={"code": centre.code, "auto_codes": centre.auto_codes},
    )
    return centre, secret


def rotate_secret(session: Session, actor: Principal, centre: DispatchCentre) -> str:
    organisation = organisations.get_organisation(session, centre.organisation_id)
    if not has_permission(session, actor, EmergencyPerm.DISPATCH, organisation):
        raise NotFound()
    centre.secret = secrets.token_hex(32)
    audit.record(
        session, actor, "emergency.centre.rotate_secret", "emergency_dispatch_centre", centre.id
    )
    return centre.secret


def _covering_centre(session: Session, lat: float, lng: float) -> DispatchCentre | None:
    centres = list(session.scalars(select(DispatchCentre).where(DispatchCentre.active.is_(True))))
    best, best_distance = None, math.inf
    for centre in centres:
        distance = geo.haversine_m(geo.Point(lat, lng), geo.Point(centre.lat, centre.lng))
        if distance <= centre.service_radius_km * 1000 and distance < best_distance:
            best, best_distance = centre, distance
    return best


# --- incidents --------------------------------------------------------------------------------


def _reference() -> str:
    return f"EM{_shanghai(utcnow()):%Y%m%d}-{secrets.token_hex(3).upper()}"


def _new_incident(session: Session, **values: Any) -> Incident:
    """The incident's region (for its matching policy) is that of the organisation it came
    through: the 120 centre's or the venue's; an SOS uses the reporter's home region."""
    if values.get("organisation_id") is not None:
        values["region_id"] = session.scalar(
            select(Organisation.region_id).where(Organisation.id == values["organisation_id"])
        )
    elif values.get("reporter_person_id") is not None:
        values["region_id"] = session.scalar(
            select(Person.home_region_id).where(Person.id == values["reporter_person_id"])
        )
    incident = Incident(reference=_reference(), **values)
    session.add(incident)
    session.flush()
    _timeline(session, incident, "received", source=incident.source)
    return incident


def receive_from_centre(
    session: Session,
    actor: Principal,
    centre_code: str,
    body: bytes,
    signature: str | None,
    idempotency_key: str | None,
) -> tuple[Incident, bool]:
    """Intake from a 120 centre: its token, its HMAC signature and an idempotency key.
    A resend with the same key returns the first incident; a different body is refused."""
    centre = session.scalar(select(DispatchCentre).where(DispatchCentre.code == centre_code))
    if centre is None or not centre.active:
        raise NotFound(N_("Unknown dispatch centre"))
    organisation = organisations.get_organisation(session, centre.organisation_id)
    if not has_permission(session, actor, EmergencyPerm.DISPATCH, organisation):
        raise PermissionDenied(N_("This token may not send incidents for this centre"))
    key = (idempotency_key or "").strip()[:200]
    # A captured intake sent again with a new key is refused; the centre's own resend (the
    # same key) goes on to be answered with the first incident.
    webhooks.accept_signed_request(
        session,
        scope=f"dispatch_centre:{centre.id}",
        secret=centre.secret,
        body=body,
        header=signature,
        request_key=key,
    )
    if not key or len(key) > 100:
        raise InvalidInput(
            N_("An Idempotency-Key header (up to 100 characters) is required"),
            errors=[{"field": "Idempotency-Key", "message": "required"}],
        )
    digest = hashlib.sha256(body).hexdigest()
    existing = session.scalar(
        select(Incident).where(Incident.centre_id == centre.id, Incident.idempotency_key == key)
    )
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict(N_("This Idempotency-Key was already used for a different incident"))
        return existing, False
    try:
        document = EidoDocument.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput(
            N_("The incident document is not valid"),
            errors=[
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ][:50],
        ) from None
    location = document.locationComponent
    lat, lng = to_wgs84(location.latitude, location.longitude, location.crs)
    code = document.incidentComponent.dispatchCode.upper()
    automatic = any(code.startswith(prefix) for prefix in centre.auto_codes)
    try:
        with session.begin_nested():
            incident = _new_incident(
                session,
                source="dispatch",
                centre_id=centre.id,
                organisation_id=centre.organisation_id,
                external_id=document.incidentComponent.incidentTrackingIdentifier,
                idempotency_key=key,
                request_hash=digest,
                kind=document.incidentComponent.incidentTypeCommonRegistryText,
                dispatch_code=code,
                lat=lat,
                lng=lng,
                address=location.civicAddressText,
                notes="\n".join(n.notesActionComments for n in document.notesComponent),
                # What the platform reads of the document, not whatever else was sent.
                eido=document.model_dump(mode="json"),
            )
    except IntegrityError:
        # The same key raced in from a second connection: that one won, answer with it.
        existing = session.scalar(
            select(Incident).where(Incident.centre_id == centre.id, Incident.idempotency_key == key)
        )
        if existing is None or existing.request_hash != digest:
            raise Conflict(
                N_("This Idempotency-Key was already used for a different incident")
            ) from None
        return existing, False
    audit.record(
        session,
        actor,
        "emergency.incident.receive",
        "emergency_incident",
        incident.id,
        after={"centre": centre.code, "external_id": incident.external_id, "code": code},
    )
    if automatic:
        begin_alerting(session, incident)
    else:
        _publish_status(session, incident, "logged")
    return incident, True


def raise_sos(
    session: Session,
    actor: Principal,
    kind: str,
    point: tuple[float, float, str],
    address: str,
    notes: str,
) -> Incident:
    assert actor.person_id is not None
    lat, lng = to_wgs84(*point)
    # SOS pressed on several devices at once are counted one after another. NO KEY UPDATE:
    # alerts and notifications for this person (foreign keys to the row) are not held up.
    session.execute(
        select(Person.id).where(Person.id == actor.person_id).with_for_update(key_share=True)
    )
    recent = session.scalar(
        select(func.count(Incident.id)).where(
            Incident.reporter_person_id == actor.person_id,
            Incident.created_at > utcnow() - timedelta(minutes=10),
        )
    )
    if (recent or 0) >= 3:
        raise Conflict(N_("You have raised several alarms in the last minutes; please call 120"))
    centre = _covering_centre(session, lat, lng)
    incident = _new_incident(
        session,
        source="sos",
        centre_id=centre.id if centre else None,
        organisation_id=centre.organisation_id if centre else None,
        kind=kind,
        lat=lat,
        lng=lng,
        address=address,
        notes=notes,
        reporter_person_id=actor.person_id,
    )
    audit.record(session, actor, "emergency.incident.sos", "emergency_incident", incident.id)
    begin_alerting(session, incident)
    return incident


def report_from_venue(
    session: Session,
    actor: Principal,
    venue: Organisation,
    kind: str,
    point: tuple[float, float, str],
    address: str,
    notes: str,
) -> Incident:
    if not has_permission(session, actor, EmergencyPerm.VENUE, venue):
        raise NotFound()
    lat, lng = to_wgs84(*point)
    centre = _covering_centre(session, lat, lng)
    incident = _new_incident(
        session,
        source="venue",
        centre_id=centre.id if centre else None,
        organisation_id=venue.id,
        kind=kind,
        lat=lat,
        lng=lng,
        address=address,
        notes=notes,
        reporter_person_id=actor.person_id,
    )
    audit.record(session, actor, "emergency.incident.venue", "emergency_incident", incident.id)
    begin_alerting(session, incident)
    return incident


def _sees_organisation(session: Session, actor: Principal, organisation_id: int) -> bool:
    organisation = organisations.get_organisation(session, organisation_id)
    return any(
        has_permission(session, actor, perm, organisation)
        for perm in (EmergencyPerm.DISPATCH, EmergencyPerm.VENUE, EmergencyPerm.OVERSEE)
    )


def can_view(
    session: Session,
    actor: Principal,
    incident: Incident,
    decided: dict[int, bool] | None = None,
) -> bool:
    """The reporter, and staff of the venue or 120 centre it belongs to (or departments above
    them). `decided` remembers each organisation's answer across a list of incidents."""
    if actor.person_id is not None and actor.person_id == incident.reporter_person_id:
        return True
    if actor.is_platform_admin and actor.scope_allows(EmergencyPerm.OVERSEE):
        return True
    decided = {} if decided is None else decided
    owners = {incident.organisation_id, _centre_organisation_id(session, incident)}
    for organisation_id in owners - {None}:
        assert organisation_id is not None
        if organisation_id not in decided:
            decided[organisation_id] = _sees_organisation(session, actor, organisation_id)
        if decided[organisation_id]:
            return True
    return False


def can_dispatch(session: Session, actor: Principal, incident: Incident) -> bool:
    """Who runs the incident: the centre's dispatchers, or the venue that raised it."""
    for organisation_id, perm in (
        (
            incident.organisation_id,
            EmergencyPerm.VENUE if incident.source == "venue" else EmergencyPerm.DISPATCH,
        ),
        (_centre_organisation_id(session, incident), EmergencyPerm.DISPATCH),
    ):
        if organisation_id is not None and has_permission(
            session, actor, perm, organisations.get_organisation(session, organisation_id)
        ):
            return True
    return actor.is_platform_admin and actor.scope_allows(EmergencyPerm.DISPATCH)


def _centre_organisation_id(session: Session, incident: Incident) -> int | None:
    if incident.centre_id is None:
        return None
    return session.scalar(
        select(DispatchCentre.organisation_id).where(DispatchCentre.id == incident.centre_id)
    )


def get_incident_for(
    session: Session,
    actor: Principal,
    incident_id: int,
    *,
    dispatch: bool = False,
    record: bool = True,
) -> Incident:
    """Fetch and check; every look at an incident is written to the audit chain."""
    incident = session.get(Incident, incident_id)
    if incident is None or not can_view(session, actor, incident):
        raise NotFound()
    if dispatch and not can_dispatch(session, actor, incident):
        raise NotFound()
    if record:
        audit.record(session, actor, "emergency.incident.view", "emergency_incident", incident.id)
    return incident


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


# --- alerting ---------------------------------------------------------------------------------


def begin_alerting(session: Session, incident: Incident) -> bool:
    """Start alerting now, and leave a durable job that will do it if this attempt fails.
    False when alerting had already started (or the incident was closed) meanwhile."""
    if incident.status != IncidentStatus.logged:
        return False
    policy, _ = policy_for(session, incident.region_id)
    values = {
        "status": IncidentStatus.alerting,
        "alerting_at": utcnow(),
        "policy": policy.as_dict(),
    }
    # Conditional, so that a double tap starts one first wave: the second waits for the
    # first to commit and then matches no row. The row stays locked while the wave is sent.
    started = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == IncidentStatus.logged)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not getattr(started, "rowcount", 0):
        session.refresh(incident)
        return False
    for name, value in values.items():
        set_committed_value(incident, name, value)
    jobs.enqueue(session, "emergency.alert_wave", {"incident_id": incident.id, "wave": 1})
    try:
        with session.begin_nested():
            send_wave(session, incident, 1)
    except Exception:
        log.exception("first wave of incident %s failed; the job retries", incident.id)
    return True


def start_alerting(session: Session, actor: Principal, incident: Incident) -> None:
    if not can_dispatch(session, actor, incident):
        raise NotFound()
    if not begin_alerting(session, incident):
        if incident.status in (IncidentStatus.closed, IncidentStatus.cancelled):
            raise Conflict(N_("This incident is already closed"))
        raise Conflict(N_("Alerting has already started for this incident"))
    audit.record(
        session, actor, "emergency.incident.start_alerting", "emergency_incident", incident.id
    )


def incident_policy(incident: Incident) -> matching.Policy:
    return matching.Policy(
        **{k: v for k, v in (incident.policy or {}).items() if k in matching.POLICY_FIELDS}
    )


def _busy_person_ids(session: Session, person_ids: list[int], incident_id: int) -> set[int]:
    if not person_ids:
        return set()
    return set(
        session.scalars(
            select(Alert.person_id)
            .join(Incident, Incident.id == Alert.incident_id)
            .where(
                Alert.person_id.in_(person_ids),
                Alert.status == AlertStatus.accepted,
                Incident.status == IncidentStatus.alerting,
                Incident.id != incident_id,
            )
        )
    )


def candidates_near(
    session: Session, incident: Incident, policy: matching.Policy
) -> matching.Candidates:
    """On-duty responders near the incident with a fresh location, a valid first-aid
    credential, not engaged at another incident; with their chance of accepting now."""
    rows = list(
        session.execute(
            select(Responder.person_id, Responder.lat, Responder.lng).where(
                Responder.duty_cell.in_(
                    matching.cells_around(incident.lat, incident.lng, policy.radius_m)
                ),
                Responder.status == ResponderStatus.active,
                Responder.located_at > utcnow() - LOCATION_FRESH,
            )
        )
    )
    ids = [int(r[0]) for r in rows]
    allowed = credentials.holders(session, FIRST_AID, ids) - _busy_person_ids(
        session, ids, incident.id
    )
    if incident.reporter_person_id is not None:
        allowed.discard(incident.reporter_person_id)
    located: list[tuple[int, float, float]] = [
        (pid, float(lat), float(lng))
        for pid, lat, lng in rows
        if pid in allowed and lat is not None and lng is not None
    ]
    hour = _shanghai(utcnow()).hour
    chances = {
        person_id: matching.likelihood_from_counts(alerted, accepted)
        for person_id, alerted, accepted in session.execute(
            select(AcceptStat.person_id, AcceptStat.alerted, AcceptStat.accepted).where(
                AcceptStat.person_id.in_([r[0] for r in located]), AcceptStat.hour == hour
            )
        )
    }
    return matching.Candidates.of(located, chances)


def _count_stat(
    session: Session, person_ids: list[int], *, alerted: int = 0, accepted: int = 0
) -> None:
    if not person_ids:
        return
    hour = _shanghai(utcnow()).hour
    statement = upsert(session, AcceptStat).values(
        [
            {"person_id": p, "hour": hour, "alerted": alerted, "accepted": accepted}
            for p in sorted(set(person_ids))
        ]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["person_id", "hour"],
            set_={
                "alerted": AcceptStat.alerted + alerted,
                "accepted": AcceptStat.accepted + accepted,
            },
        )
    )


def send_wave(session: Session, incident: Incident, wave: int, count: int | None = None) -> int:
    """Alert the next responders. `count` defaults to a wave's size (within the total cap).

    The caller holds the incident's row lock (`_lock_incident`, or the update that started
    alerting): the alerts counted here are still all there are when the new ones go in."""
    policy = incident_policy(incident)
    existing = list(session.scalars(select(Alert).where(Alert.incident_id == incident.id)))
    before = matching.AlreadyAlerted(
        person_ids={a.person_id for a in existing},
        aed_ids={a.aed_id for a in existing if a.aed_id and a.status != AlertStatus.declined},
        total=sum(1 for a in existing if a.status != AlertStatus.declined),
        via_aed=sum(
            1 for a in existing if a.route == Route.via_aed and a.status != AlertStatus.declined
        ),
    )
    room = policy.max_responders - before.total
    wanted = min(policy.wave_size if count is None else count, room)
    if wanted <= 0:
        return 0
    now = utcnow()
    aeds = aeds_to_send_for(session, incident.lat, incident.lng, policy.radius_m * 1.5, now)
    plans = matching.plan(
        incident.lat,
        incident.lng,
        candidates_near(session, incident, policy),
        matching.AedSites.of((a.id, a.lat, a.lng, known) for a, known in aeds),
        policy,
        count=wanted,
        before=before,
    )
    if not plans:
        _timeline(session, incident, "no_candidates", wave=wave)
        if count is None and wave < MAX_WAVES:
            # Nobody yet: someone may come on duty nearby in the next minute, so keep looking.
            incident.wave = max(incident.wave, wave)
            jobs.enqueue(
                session,
                "emergency.alert_wave",
                {"incident_id": incident.id, "wave": wave + 1},
                run_at=utcnow() + timedelta(seconds=policy.wave_interval_s),
            )
        return 0
    alerts = [
        Alert(
            incident_id=incident.id,
            person_id=p.person_id,
            wave=wave,
            route=p.route,
            aed_id=p.aed_id,
            walk_m=p.walk_m,
            eta_s=p.eta_s,
            accept_likelihood=round(p.likelihood, 3),
            sent_at=now,
        )
        for p in plans
    ]
    session.add_all(alerts)
    session.flush()
    _count_stat(session, [a.person_id for a in alerts], alerted=1)
    label = KINDS.get(incident.kind, KINDS["other"])
    for alert in alerts:
        notifications.notify(
            session,
            alert.person_id,
            kind="emergency.alert",
            title=N_("Emergency nearby: %(kind)s"),
            body=N_("%(address)s, about %(minutes)s min on foot. Can you help?"),
            params={
                "kind": translatable(label),
                "address": incident.address or "",
                "minutes": max(1, round(alert.eta_s / 60)),
            },
            link=f"/emergency/alerts/{alert.id}",
            channels=("push", "sms"),
        )
        live.announce(
            session, f"person:{alert.person_id}", "emergency_alert", {"alert_id": alert.id}
        )
    incident.wave = max(incident.wave, wave)
    _timeline(
        session,
        incident,
        "wave",
        wave=wave,
        alerted=len(alerts),
        via_aed=sum(1 for a in alerts if a.route == Route.via_aed),
    )
    if count is None and before.total + len(alerts) < policy.max_responders and wave < MAX_WAVES:
        jobs.enqueue(
            session,
            "emergency.alert_wave",
            {"incident_id": incident.id, "wave": wave + 1},
            run_at=now + timedelta(seconds=policy.wave_interval_s),
        )
    _publish_status(session, incident, "alerting")
    return len(alerts)


def next_wave(session: Session, incident_id: int, wave: int) -> int:
    """The durable job: wave 1 if the first attempt failed; later waves if too few accepted."""
    incident = _lock_incident(session, incident_id)
    if incident is None or incident.status != IncidentStatus.alerting:
        return 0
    if wave == 1:
        if incident.wave >= 1:
            return 0
        return send_wave(session, incident, 1)
    if incident.wave != wave - 1:
        return 0  # this wave was already sent (a retried job)
    accepted = (
        session.scalar(
            select(func.count(Alert.id)).where(
                Alert.incident_id == incident.id, Alert.status == AlertStatus.accepted
            )
        )
        or 0
    )
    if accepted >= incident_policy(incident).target_accepted:
        _timeline(session, incident, "enough_accepted", accepted=accepted)
        return 0
    return send_wave(session, incident, wave)


def get_alert_for(
    session: Session, actor: Principal, alert_id: int, *, record: bool = False
) -> Alert:
    """The responder's own alert; `record` writes the look at the incident to the audit chain."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.person_id != actor.person_id:
        raise NotFound()
    if record:
        audit.record(session, actor, "emergency.alert.view", "emergency_alert", alert.id)
    return alert


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


def _open_incident(session: Session, alert: Alert, *, lock: bool = False) -> Incident:
    if lock:
        incident = _lock_incident(session, alert.incident_id)
    else:
        incident = session.get(Incident, alert.incident_id)
    assert incident is not None
    if incident.status != IncidentStatus.alerting:
        raise Conflict(N_("This incident is already closed; thank you"))
    return incident


def answer(session: Session, actor: Principal, alert_id: int, accept: bool) -> Alert:
    alert = get_alert_for(session, actor, alert_id)
    # Under the incident's lock, so that an answer and the close (or a wave) come one after
    # the other: an accept never lands on an incident closed meanwhile. The alert is read
    # again under it, so a double tap that waited sees the first tap's answer.
    incident = _open_incident(session, alert, lock=True)
    session.refresh(alert)
    wanted = AlertStatus.accepted if accept else AlertStatus.declined
    if alert.status == wanted:
        return alert
    if alert.status not in (AlertStatus.sent, AlertStatus.declined) or (
        alert.status == AlertStatus.declined and not accept
    ):
        raise Conflict(N_("You have already answered this alert"))
    if accept and _busy_person_ids(session, [alert.person_id], incident.id):
        raise Conflict(N_("You are already helping at another incident"))
    # Conditional so that a double tap, or two devices, answer once. Two alerts of other
    # incidents accepted at the same moment both pass the check above: the unique index on
    # accepted alerts lets one stand.
    try:
        with session.begin_nested():
            result = session.execute(
                update(Alert)
                .where(Alert.id == alert.id, Alert.status == alert.status)
                .values(status=wanted, answered_at=utcnow())
            )
    except IntegrityError:
        raise Conflict(N_("You are already helping at another incident")) from None
    if not getattr(result, "rowcount", 0):
        raise Conflict(N_("You have already answered this alert"))
    session.refresh(alert)
    if accept:
        _count_stat(session, [alert.person_id], accepted=1)
        if (
            alert.route == Route.via_aed
            and alert.aed_id
            and not _aed_still_usable(session, alert.aed_id)
        ):
            alert.route, alert.aed_id = Route.direct, None
    _timeline(
        session,
        incident,
        "accepted" if accept else "declined",
        alert.person_id,
        alert_id=alert.id,
        route=alert.route,
    )
    if not accept:
        # The place passes to the next candidate, who may take this alert's AED (a declined
        # alert keeps its AED on record but no longer holds it). The decline stands even if
        # passing it on fails; the wave job carries on.
        try:
            with session.begin_nested():
                send_wave(session, incident, max(incident.wave, 1), count=1)
        except IntegrityError:
            log.exception("incident %s: the place of a decline was not passed on", incident.id)
    _publish_status(session, incident, "responder_accepted" if accept else "responder_declined")
    return alert


def _aed_still_usable(session: Session, aed_id: int) -> bool:
    aed = session.get(Aed, aed_id)
    return aed is not None and worth_sending_for(aed, utcnow()) is not None


STEPS = ("at_aed", "on_scene", "handed_over")


def progress(session: Session, actor: Principal, alert_id: int, step: str) -> Alert:
    alert = get_alert_for(session, actor, alert_id)
    incident = _open_incident(session, alert)
    if alert.status != AlertStatus.accepted:
        raise Conflict(N_("Accept the alert first"))
    if step not in STEPS:
        raise InvalidInput(N_("Unknown step"))
    if step == "at_aed" and alert.route != Route.via_aed:
        raise InvalidInput(N_("You were not asked to fetch an AED"))
    column = f"{step}_at"
    if getattr(alert, column) is None:
        setattr(alert, column, utcnow())
        _timeline(session, incident, step, alert.person_id, alert_id=alert.id, aed_id=alert.aed_id)
        _publish_status(session, incident, step)
    return alert


def report_position(
    session: Session, actor: Principal, alert_id: int, point: tuple[float, float, str]
) -> Alert:
    alert = get_alert_for(session, actor, alert_id)
    incident = _open_incident(session, alert)
    if alert.status != AlertStatus.accepted:
        raise Conflict(N_("Accept the alert first"))
    alert.lat, alert.lng = to_wgs84(*point)
    alert.located_at = utcnow()
    live.announce(session, f"incident:{incident.id}", "changed", {"kind": "position"})
    return alert


def set_ambulance_eta(session: Session, actor: Principal, incident: Incident, minutes: int) -> None:
    if not can_dispatch(session, actor, incident):
        raise NotFound()
    _lock_incident(session, incident.id)  # refreshes `incident`, the session's own copy
    if incident.status not in (IncidentStatus.logged, IncidentStatus.alerting):
        raise Conflict(N_("This incident is already closed"))
    incident.ambulance_eta_at = utcnow() + timedelta(minutes=minutes)
    _timeline(session, incident, "ambulance_eta", actor.person_id, minutes=minutes)
    audit.record(
        session,
        actor,
        "emergency.incident.eta",
        "emergency_incident",
        incident.id,
        after={"minutes": minutes},
    )
    for alert in session.scalars(
        select(Alert).where(Alert.incident_id == incident.id, Alert.status == AlertStatus.accepted)
    ):
        live.announce(
            session, f"person:{alert.person_id}", "emergency_alert", {"alert_id": alert.id}
        )
    _publish_status(session, incident, "ambulance_eta")


def close(session: Session, actor: Principal, incident: Incident, outcome: OutcomeIn) -> None:
    if not can_dispatch(session, actor, incident):
        raise NotFound()
    # Every answer and wave of the incident waits for this close, or went before it: the
    # alerts read below are all there are, in their final statuses.
    _lock_incident(session, incident.id)  # refreshes `incident`, the session's own copy
    if incident.status in (IncidentStatus.closed, IncidentStatus.cancelled):
        raise Conflict(N_("This incident is already closed"))
    if outcome.shock_delivered and not outcome.aed_applied:
        raise InvalidInput(
            N_("A shock can only be delivered when an AED was applied"),
            errors=[{"field": "shock_delivered", "message": "needs aed_applied"}],
        )
    incident.status = IncidentStatus.cancelled if outcome.cancelled else IncidentStatus.closed
    incident.closed_at = utcnow()
    incident.outcome = outcome.model_dump()
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.incident_id == incident.id)
            .execution_options(populate_existing=True)
        )
    )
    for alert in alerts:
        if alert.status == AlertStatus.sent:
            alert.status = AlertStatus.withdrawn
        elif alert.status == AlertStatus.accepted:
            alert.status = AlertStatus.released
            notifications.notify(
                session,
                alert.person_id,
                kind="emergency.closed",
                title=N_("The incident is closed. Thank you for helping."),
                link=f"/emergency/alerts/{alert.id}",
            )
        live.announce(
            session, f"person:{alert.person_id}", "emergency_alert", {"alert_id": alert.id}
        )
    _timeline(
        session,
        incident,
        str(incident.status),
        actor.person_id,
        **{k: v for k, v in incident.outcome.items() if k != "note"},
    )
    audit.record(
        session,
        actor,
        "emergency.incident.close",
        "emergency_incident",
        incident.id,
        after=incident.outcome,
    )
    _publish_status(session, incident, str(incident.status))


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
        STATUS_TOPIC,
        {
            "organisation_id": organisation_id,
            "incident": incident.reference,
            "external_id": incident.external_id,
            "status": str(incident.status),
            "change": change,
            "alerted": sum(counts.values()),
            "accepted": counts.get(AlertStatus.accepted, 0) + counts.get(AlertStatus.released, 0),
            "declined": counts.get(AlertStatus.declined, 0),
            "first_eta_s": engaged[0],
            "on_scene": engaged[1],
            "aed_picked_up": engaged[2],
            "outcome": incident.outcome,
            "at": utcnow().isoformat(),
        },
    )


# --- what the pages and the API show ----------------------------------------------------------


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


def cap_xml(session: Session, incident: Incident, sender: str) -> bytes:
    """The incident as a CAP 1.2 alert (OASIS), for public-warning systems."""
    from xml.etree import ElementTree as ET

    ns = "urn:oasis:names:tc:emergency:cap:1.2"
    ET.register_namespace("", ns)
    root = ET.Element(f"{{{ns}}}alert")

    def add(parent: ET.Element, tag: str, text: str) -> ET.Element:
        child = ET.SubElement(parent, f"{{{ns}}}{tag}")
        child.text = text
        return child

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "-00:00")

    closed = incident.status in (IncidentStatus.closed, IncidentStatus.cancelled)
    add(root, "identifier", f"gongchuang-{incident.reference}")
    add(root, "sender", sender)
    add(root, "sent", stamp(incident.closed_at if closed and incident.closed_at else utcnow()))
    add(root, "status", "Actual")
    add(
        root,
        "msgType",
        "Cancel"
        if incident.status == IncidentStatus.cancelled
        else ("Update" if closed else "Alert"),
    )
    add(root, "scope", "Public")
    info = ET.SubElement(root, f"{{{ns}}}info")
    add(info, "language", "zh-CN")
    add(info, "category", "Health")
    add(info, "event", "心脏骤停急救" if incident.kind == "cardiac_arrest" else "紧急医疗事件")
    add(info, "responseType", "AllClear" if closed else "Prepare")
    add(info, "urgency", "Past" if closed else "Immediate")
    add(info, "severity", "Severe")
    add(info, "certainty", "Observed")
    add(info, "senderName", sender)
    add(info, "headline", "附近有人需要急救，持证急救员请前往" if not closed else "急救事件已结束")
    add(info, "description", incident.address or "")
    add(
        info,
        "instruction",
        "持有有效急救证的志愿者请在应用中接受任务；其他人请拨打120并保持通道畅通。",
    )
    area = ET.SubElement(info, f"{{{ns}}}area")
    add(area, "areaDesc", incident.address or incident.reference)
    # A public message names an area, not the patient's doorstep: 300 m, rounded centre.
    add(area, "circle", f"{incident.lat:.3f},{incident.lng:.3f} 0.3")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


# --- housekeeping -----------------------------------------------------------------------------


def prune_locations(session: Session) -> tuple[int, int]:
    """Privacy: stale on-duty locations end the duty; incident tracks go after a day."""
    now = utcnow()
    stale = list(
        session.scalars(
            select(Responder).where(
                Responder.on_duty.is_(True), Responder.located_at < now - LOCATION_TTL
            )
        )
    )
    for responder in stale:
        _clear_location(responder)
        notifications.notify(
            session,
            responder.person_id,
            kind="emergency.duty_ended",
            title=N_("You were taken off duty: your location had not been updated for 12 hours"),
            link="/emergency",
        )
    closed = select(Incident.id).where(Incident.closed_at < now - TRACK_RETENTION)
    result = session.execute(
        update(Alert)
        .where(Alert.incident_id.in_(closed), or_(Alert.lat.is_not(None), Alert.lng.is_not(None)))
        .values(lat=None, lng=None, located_at=None)
    )
    return len(stale), int(getattr(result, "rowcount", 0) or 0)


def send_maintenance_reminders(session: Session, today: date | None = None) -> int:
    """A month before the battery or pads expire, on expiry, and when the monthly check is
    overdue: the guardian and the owner's staff hear about it, once per thing and date."""
    today = today or local_today()
    sent = 0
    for aed in session.scalars(select(Aed).where(Aed.status != AedStatus.retired)):
        due: list[tuple[str, str, str]] = []
        for kind, moment, soon, past in (
            (
                "battery",
                aed.battery_expires_on,
                N_("The AED battery expires on %(date)s"),
                N_("The AED battery has expired (%(date)s); the AED is not sent for"),
            ),
            (
                "pads",
                aed.pads_expire_on,
                N_("The AED pads expire on %(date)s"),
                N_("The AED pads have expired (%(date)s); the AED is not sent for"),
            ),
        ):
            if moment is not None and moment - REMIND_BEFORE <= today:
                due.append(
                    (
                        f"{kind}:{'past' if moment < today else 'soon'}",
                        past if moment < today else soon,
                        moment.isoformat(),
                    )
                )
        if aed.last_inspected_on is None or aed.last_inspected_on + INSPECTION_EVERY <= today:
            due.append(
                (
                    "inspection",
                    N_("The AED's monthly check is due"),
                    (aed.last_inspected_on or today).isoformat(),
                )
            )
        reminders = dict(aed.reminders_sent or {})
        fresh = [(key, title, day) for key, title, day in due if reminders.get(key) != day]
        if not fresh:
            continue
        recipients = set(_venue_staff(session, aed.organisation_id))
        if aed.guardian_person_id:
            recipients.add(aed.guardian_person_id)
        for key, title, day in fresh:
            for person_id in sorted(recipients):
                notifications.notify(
                    session,
                    person_id,
                    kind="emergency.aed_maintenance",
                    title=title,
                    body=aed.address or aed.serial,
                    params={"date": day},
                    link=f"/emergency/aeds/{aed.id}/edit",
                    channels=("sms",),
                )
                sent += 1
            reminders[key] = day
        aed.reminders_sent = reminders
    return sent


def _venue_staff(session: Session, organisation_id: int) -> list[int]:
    memberships = session.execute(
        select(Membership.person_id, Membership.roles).where(
            Membership.organisation_id == organisation_id
        )
    )
    return [pid for pid, roles in memberships if {"admin", "venue_operator"} & set(roles or [])]
