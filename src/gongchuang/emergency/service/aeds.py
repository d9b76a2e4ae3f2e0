"""The AED register: when an AED may be sent for, its owner's changes, and the files it is
imported from and exported to (CSV/Excel, GeoJSON with OpenStreetMap tags)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, organisations, spreadsheets
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_, Phrase, shown_param, translatable
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.emergency import matching, opening_hours
from gongchuang.emergency.models import Aed, AedStatus
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import AedIn
from gongchuang.emergency.service._common import _shanghai, member_by_phone, to_wgs84

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
                "message": Phrase(
                    N_("not OpenStreetMap opening_hours (%(problem)s); e.g. Mo-Fr 08:00-18:00"),
                    problem=problem,
                ),
            }
        )
    values["guardian_person_id"] = None
    if data.guardian_phone:
        guardian = member_by_phone(session, organisation.id, data.guardian_phone)
        if guardian is None:
            errors.append(
                {
                    "field": "guardian_phone",
                    "message": N_("the guardian must be a member of the owner organisation"),
                }
            )
        else:
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
                {
                    "row": line,
                    "field": "emergency",
                    "message": N_("not an AED (no emergency=defibrillator)"),
                }
            )
            continue
        if "lat" not in row or "lng" not in row:
            errors.append(
                {"row": line, "field": "location", "message": N_("an AED needs a location")}
            )
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
