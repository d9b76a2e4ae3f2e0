"""Coordinates. Storage is WGS-84 (GPS); Chinese map apps (Amap, Tencent) speak GCJ-02, which
is WGS-84 shifted by a published obfuscation formula. Convert at the edges, never store GCJ-02.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote

EARTH_RADIUS_M = 6_371_008.8
# Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it.
_A = 6_378_245.0
_EE = 0.006_693_421_622_965_943


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float


def in_mainland_bounds(lat: float, lng: float) -> bool:
    """The rough box GCJ-02 applies to (outside it the two systems coincide)."""
    return 0.8293 <= lat <= 55.8271 and 72.004 <= lng <= 137.8347


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> Point:
    if not in_mainland_bounds(lat, lng):
        return Point(lat, lng)
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return Point(lat + d_lat, lng + d_lng)


def gcj02_to_wgs84(lat: float, lng: float, tolerance_deg: float = 1e-9) -> Point:
    """Inverse by fixed-point iteration: converges to well under a centimetre."""
    guess = Point(lat, lng)
    for _ in range(30):
        shifted = wgs84_to_gcj02(guess.lat, guess.lng)
        d_lat, d_lng = shifted.lat - lat, shifted.lng - lng
        guess = Point(guess.lat - d_lat, guess.lng - d_lng)
        if abs(d_lat) < tolerance_deg and abs(d_lng) < tolerance_deg:
            break
    return guess


def point_in_china(lat: float, lng: float, gcj02: bool = False) -> Point | None:
    """A coordinate as it arrives (a phone's GPS, or GCJ-02 from a Chinese map app) as WGS-84,
    or None when it is not a place in mainland China (NaN and infinities fail the box too)."""
    if not in_mainland_bounds(lat, lng):
        return None
    return gcj02_to_wgs84(lat, lng) if gcj02 else Point(lat, lng)


def haversine_m(a: Point, b: Point) -> float:
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    d_lat = lat2 - lat1
    d_lng = math.radians(b.lng - a.lng)
    h = math.sin(d_lat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(d_lng / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class MapAppLink:
    app: str  # "amap" | "baidu" | "apple"
    url: str


def walking_directions(lat: float, lng: float, name: str) -> list[MapAppLink]:
    """Walking directions to a stored (WGS-84) point, handed to the phone's map app. Amap, Baidu
    and Apple Maps in China read GCJ-02, so the point is shifted here, at the edge (Baidu is
    told the system it is given). Outside mainland China the two systems coincide."""
    shifted = wgs84_to_gcj02(lat, lng) if in_mainland_bounds(lat, lng) else Point(lat, lng)
    at = f"{shifted.lat:.6f},{shifted.lng:.6f}"
    label = quote(name[:60] or "AED")
    return [
        MapAppLink(
            "amap",
            "https://uri.amap.com/navigation?"
            f"to={shifted.lng:.6f},{shifted.lat:.6f},{label}&mode=walk&coordinate=gaode"
            "&callnative=1&src=gongchuang",
        ),
        MapAppLink(
            "baidu",
            "https://api.map.baidu.com/direction?"
            f"destination=latlng:{at}|name:{label}&mode=walking&coord_type=gcj02"
            "&region=&output=html&src=gongchuang",
        ),
        MapAppLink("apple", f"https://maps.apple.com/?daddr={at}&dirflg=w"),
    ]
