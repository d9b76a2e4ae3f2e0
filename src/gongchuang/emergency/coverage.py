"""Coverage analysis: what share of a region's people (weighted points: residential blocks,
venues, schools) is within a 3-minute walk of an AED that can be reached at that hour, and where
the next K AEDs would add the most."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gongchuang.core import audit, regions, spreadsheets
from gongchuang.core.clock import SHANGHAI, local_today
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import Organisation, Region
from gongchuang.core.permissions import Principal
from gongchuang.emergency import matching, opening_hours, service
from gongchuang.emergency.models import Aed, PopulationPoint

WALK_MINUTES = 3.0


@dataclass
class Suggestion:
    label: str
    lat: float
    lng: float
    added_weight: int
    # Where a person would look for it: the region the point lies in, and the nearest
    # registered AED's place (its venue and address), how far and in which direction.
    region_name: str = ""
    landmark: str = ""
    landmark_m: float | None = None
    direction: str = ""  # one of DIRECTIONS' keys: the site as seen from the landmark


DIRECTIONS = {
    "n": N_("north"),
    "ne": N_("north-east"),
    "e": N_("east"),
    "se": N_("south-east"),
    "s": N_("south"),
    "sw": N_("south-west"),
    "w": N_("west"),
    "nw": N_("north-west"),
}


def compass(from_lat: float, from_lng: float, to_lat: float, to_lng: float) -> str:
    """The eight-point compass direction from one place to another, as DIRECTIONS' key."""
    north = to_lat - from_lat
    east = (to_lng - from_lng) * math.cos(math.radians((from_lat + to_lat) / 2))
    angle = math.degrees(math.atan2(east, north)) % 360
    return list(DIRECTIONS)[int((angle + 22.5) // 45) % 8]


def _describe(
    session: Session, suggestions: list[Suggestion], points: list[PopulationPoint], aeds: list[Aed]
) -> None:
    """Name each suggested site as people know the area: its region, and the nearest AED's
    venue and address with the distance and direction from there."""
    region_ids = {p.region_id for p in points}
    region_names = dict(
        session.execute(select(Region.id, Region.name).where(Region.id.in_(region_ids))).all()
    )
    by_place = {(p.lat, p.lng, p.label): p.region_id for p in points}
    venues = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_({a.organisation_id for a in aeds})
            )
        ).all()
    )
    for suggestion in suggestions:
        region_id = by_place.get((suggestion.lat, suggestion.lng, suggestion.label))
        suggestion.region_name = region_names.get(region_id, "") if region_id else ""
        if not aeds:
            continue
        metres = matching.haversine_many(
            suggestion.lat,
            suggestion.lng,
            np.array([a.lat for a in aeds], dtype=np.float64),
            np.array([a.lng for a in aeds], dtype=np.float64),
        )
        nearest = aeds[int(np.argmin(metres))]
        venue = venues.get(nearest.organisation_id, "")
        address = nearest.address.strip()
        if venue and address and venue not in address:
            suggestion.landmark = gettext("%(venue)s (%(address)s)", venue=venue, address=address)
        else:
            suggestion.landmark = address or venue
        suggestion.landmark_m = float(metres.min())
        suggestion.direction = compass(nearest.lat, nearest.lng, suggestion.lat, suggestion.lng)


@dataclass
class CoverageReport:
    region: Region
    weekday: int
    reach_m: float
    total_weight: int
    points: int
    aeds: int
    by_hour: list[tuple[int, int, float]]  # hour, covered weight, share
    suggestions: list[Suggestion]
    share_after: float
    point_rows: list[tuple[float, float, int, bool]]  # lat, lng, weight, covered at all hours
    aed_rows: list[tuple[float, float, str, bool]]  # lat, lng, opening hours, in service that day


def _points(session: Session, region: Region) -> list[PopulationPoint]:
    ids = regions.subtree_ids(session, region)
    return list(session.scalars(select(PopulationPoint).where(PopulationPoint.region_id.in_(ids))))


def report(
    session: Session, actor: Principal, region: Region, weekday: int, k: int
) -> CoverageReport:
    if not service.can_oversee_region(session, actor, region):
        raise NotFound()
    if not 0 <= weekday <= 6 or not 0 <= k <= 50:
        raise InvalidInput(N_("Choose a weekday 0–6 and at most 50 suggestions"))
    policy, _ = service.policy_for(session, region.id)
    reach = matching.reach_m(policy, WALK_MINUTES)
    points = _points(session, region)
    lats = np.array([p.lat for p in points], dtype=np.float64)
    lngs = np.array([p.lng for p in points], dtype=np.float64)
    weights = np.array([p.weight for p in points], dtype=np.int64)
    aeds: list[Aed] = []
    if points:
        pad = reach / matching.METRES_PER_DEGREE * 2
        aeds = list(
            session.scalars(
                select(Aed).where(
                    Aed.lat.between(float(lats.min()) - pad, float(lats.max()) + pad),
                    Aed.lng.between(float(lngs.min()) - pad * 1.3, float(lngs.max()) + pad * 1.3),
                )
            )
        )
    # The next such weekday, a real date: expiry dates, public holidays and make-up working
    # days apply as they will that day. An AED whose hours are unknown covers nobody here.
    today = local_today()
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    in_service = [not service.aed_problems(aed, day) for aed in aeds]
    by_hour = []
    always = np.ones(len(points), dtype=bool)
    for hour in range(24):
        moment = datetime.combine(day, time(hour, 30), tzinfo=SHANGHAI)
        open_now = [
            a
            for a, ok in zip(aeds, in_service, strict=True)
            if ok and service.hours_now(a, moment) is opening_hours.Availability.open
        ]
        index = matching.GeoIndex(
            [a.id for a in open_now], [a.lat for a in open_now], [a.lng for a in open_now]
        )
        result, covered = matching.coverage(lats, lngs, weights, index, reach)
        always &= covered
        by_hour.append((hour, result.covered_weight, round(result.share, 4)))
    chosen = matching.greedy_placement(lats, lngs, weights, always, reach, k)
    suggestions = [
        Suggestion(points[i].label, points[i].lat, points[i].lng, gain) for i, gain in chosen
    ]
    _describe(session, suggestions, points, aeds)
    total = int(weights.sum())
    after = (
        (int(weights[always].sum()) + sum(s.added_weight for s in suggestions)) / total
        if total
        else 0.0
    )
    return CoverageReport(
        region=region,
        weekday=weekday,
        reach_m=round(reach, 1),
        total_weight=total,
        points=len(points),
        aeds=len(aeds),
        by_hour=by_hour,
        suggestions=suggestions,
        share_after=round(after, 4),
        point_rows=[(p.lat, p.lng, p.weight, bool(c)) for p, c in zip(points, always, strict=True)],
        aed_rows=[
            (a.lat, a.lng, a.opening_hours or "", ok)
            for a, ok in zip(aeds, in_service, strict=True)
        ],
    )


POINT_HEADERS = {
    "label": ("label", "名称"),
    "lat": ("lat", "latitude", "纬度"),
    "lng": ("lng", "lon", "longitude", "经度"),
    "weight": ("weight", "人口", "人数"),
    "crs": ("crs", "坐标系"),
}


def import_points(
    session: Session, actor: Principal, region: Region, data: bytes, filename: str
) -> int:
    """Replace the region's own population points with a sheet (label, lat, lng, weight)."""
    if not service.can_oversee_region(session, actor, region):
        raise NotFound()
    rows = spreadsheets.read_rows(data, filename, POINT_HEADERS, {"lat", "lng"})
    errors: list[dict[str, object]] = []
    parsed = []
    for row in rows:
        try:
            lat, lng = float(row.values["lat"]), float(row.values["lng"])
            weight = int(row.values.get("weight") or 1)
            if weight < 0:
                raise ValueError
            crs = (row.values.get("crs") or "WGS84").upper().replace("-", "")
            lat, lng = service.to_wgs84(lat, lng, "GCJ02" if crs == "GCJ02" else "WGS84")
        except (ValueError, InvalidInput):
            errors.append(
                {"row": row.line, "message": N_("lat/lng must be a place in China, weight ≥ 0")}
            )
            continue
        parsed.append(
            PopulationPoint(
                region_id=region.id,
                label=row.values.get("label", "")[:200],
                lat=lat,
                lng=lng,
                weight=weight,
            )
        )
    spreadsheets.name_rows(errors, rows, "label")
    if errors:
        raise InvalidInput(N_("Some rows are not valid; nothing was imported"), errors=errors[:200])
    session.execute(delete(PopulationPoint).where(PopulationPoint.region_id == region.id))
    session.add_all(parsed)
    audit.record(
        session,
        actor,
        "emergency.population.import",
        "region",
        region.id,
        after={"points": len(parsed)},
    )
    return len(parsed)
