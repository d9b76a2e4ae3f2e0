"""Choosing responders and AEDs for one incident: pure numbers, no database.

Distances are great-circle (haversine) metres. Walking time is estimated by a `Router`; the
default multiplies the straight line by a detour factor and divides by a lay walking speed, and a
real pedestrian router can be plugged in behind the same interface.

`GeoIndex` answers "who is within r metres" with a k-d tree over 3-D unit vectors: the chord
between two unit vectors grows monotonically with the great-circle distance, so the answer is
exact, unlike a tree over raw degrees (a degree of longitude is shorter than one of latitude).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from gongchuang.core.geo import EARTH_RADIUS_M

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# Grid cells for the database index: 0.01° is about 1.1 km north-south.
CELL_DEG = 0.01
_CELL_COLUMNS = 100_000
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


@dataclass(frozen=True)
class Policy:
    """Defaults after the Dutch, Danish and GoodSAM systems; each region may override."""

    radius_m: int = 1000
    max_responders: int = 30
    wave_size: int = 10
    wave_interval_s: int = 45
    target_accepted: int = 3
    direct_percent: int = 33
    aed_detour_percent: int = 5
    walking_speed_cm_s: int = 230
    detour_factor_percent: int = 130

    @property
    def walking_speed(self) -> float:
        return self.walking_speed_cm_s / 100

    @property
    def detour_factor(self) -> float:
        return self.detour_factor_percent / 100

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in POLICY_FIELDS}


POLICY_FIELDS = (
    "radius_m",
    "max_responders",
    "wave_size",
    "wave_interval_s",
    "target_accepted",
    "direct_percent",
    "aed_detour_percent",
    "walking_speed_cm_s",
    "detour_factor_percent",
)


def geo_cell(lat: float, lng: float) -> int:
    return math.floor((lat + 90) / CELL_DEG) * _CELL_COLUMNS + math.floor((lng + 180) / CELL_DEG)


def cells_around(lat: float, lng: float, radius_m: float) -> list[int]:
    """Every grid cell a circle of `radius_m` around the point touches."""
    d_lat = radius_m / METRES_PER_DEGREE
    d_lng = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    rows = range(
        math.floor((lat - d_lat + 90) / CELL_DEG),
        math.floor((lat + d_lat + 90) / CELL_DEG) + 1,
    )
    columns = range(
        math.floor((lng - d_lng + 180) / CELL_DEG),
        math.floor((lng + d_lng + 180) / CELL_DEG) + 1,
    )
    return [row * _CELL_COLUMNS + column for row in rows for column in columns]


def haversine_many(lat: float, lng: float, lats: FloatArray, lngs: FloatArray) -> FloatArray:
    """Great-circle metres from one point to many."""
    lat1 = math.radians(lat)
    lat2 = np.radians(lats)
    d_lat = lat2 - lat1
    d_lng = np.radians(lngs) - math.radians(lng)
    h = np.sin(d_lat / 2) ** 2 + math.cos(lat1) * np.cos(lat2) * np.sin(d_lng / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def unit_vectors(lats: FloatArray, lngs: FloatArray) -> FloatArray:
    lat, lng = np.radians(lats), np.radians(lngs)
    cos_lat = np.cos(lat)
    return np.column_stack((cos_lat * np.cos(lng), cos_lat * np.sin(lng), np.sin(lat)))


def chord_for(metres: float) -> float:
    return 2 * math.sin(min(metres / EARTH_RADIUS_M, math.pi) / 2)


def _kd_tree(points: FloatArray) -> Any:
    # Imported here: scipy.spatial costs every process a third of a second to import (the CLI,
    # each web worker), and only matching uses it.
    from scipy.spatial import cKDTree

    return cKDTree(points)


class GeoIndex:
    """Points (with integer ids) for repeated radius queries."""

    def __init__(self, ids: Iterable[int], lats: Iterable[float], lngs: Iterable[float]) -> None:
        self.ids: IntArray = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
        self.lats: FloatArray = np.asarray(lats, dtype=np.float64)
        self.lngs: FloatArray = np.asarray(lngs, dtype=np.float64)
        self._tree = _kd_tree(unit_vectors(self.lats, self.lngs)) if len(self.lats) else None

    def __len__(self) -> int:
        return len(self.lats)

    def within(self, lat: float, lng: float, radius_m: float) -> IntArray:
        """Positions (not ids) of the points within the radius, unordered."""
        if self._tree is None:
            return np.empty(0, dtype=np.int64)
        centre = unit_vectors(np.array([lat]), np.array([lng]))[0]
        found = self._tree.query_ball_point(centre, chord_for(radius_m) * (1 + 1e-12))
        return np.asarray(found, dtype=np.int64)

    def within_many(self, lats: FloatArray, lngs: FloatArray, radius_m: float) -> list[list[int]]:
        if self._tree is None:
            return [[] for _ in range(len(lats))]
        found = self._tree.query_ball_point(unit_vectors(lats, lngs), chord_for(radius_m))
        return [list(item) for item in found]

    def nearest_distance(self, lats: FloatArray, lngs: FloatArray) -> FloatArray:
        """Great-circle metres from each point to its nearest indexed point (inf if none)."""
        if self._tree is None:
            return np.full(len(lats), np.inf)
        chords, _ = self._tree.query(unit_vectors(lats, lngs), k=1)
        return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(np.asarray(chords) / 2, 1.0))


class Router(Protocol):
    """Estimated walking metres from one point to many."""

    def walk_m(self, lat: float, lng: float, lats: FloatArray, lngs: FloatArray) -> FloatArray: ...


@dataclass(frozen=True)
class DetourRouter:
    detour_factor: float = 1.3

    def walk_m(self, lat: float, lng: float, lats: FloatArray, lngs: FloatArray) -> FloatArray:
        return haversine_many(lat, lng, lats, lngs) * self.detour_factor


@dataclass
class Candidates:
    """Responders who could be asked: on duty, located, not busy elsewhere."""

    person_ids: IntArray
    lats: FloatArray
    lngs: FloatArray
    likelihood: FloatArray  # chance they accept at this hour, 0..1

    @classmethod
    def of(
        cls,
        rows: Iterable[tuple[int, float, float]],
        likelihood: dict[int, float] | None = None,
    ) -> Candidates:
        rows = list(rows)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        chances = likelihood or {}
        return cls(
            ids,
            np.array([r[1] for r in rows], dtype=np.float64),
            np.array([r[2] for r in rows], dtype=np.float64),
            np.array([chances.get(int(i), PRIOR_LIKELIHOOD) for i in ids], dtype=np.float64),
        )


@dataclass
class AedSites:
    """AEDs a responder may fetch now near the incident: known to be open, or (hours_known
    false) with opening hours nobody recorded, taken only when no open one lies on the way."""

    aed_ids: IntArray
    lats: FloatArray
    lngs: FloatArray
    hours_known: BoolArray | None = None

    @classmethod
    def of(
        cls, rows: Iterable[tuple[int, float, float] | tuple[int, float, float, bool]]
    ) -> AedSites:
        rows = list(rows)
        return cls(
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.float64),
            np.array([r[2] for r in rows], dtype=np.float64),
            np.array([bool(r[3]) if len(r) > 3 else True for r in rows], dtype=bool),
        )

    def known(self) -> BoolArray:
        if self.hours_known is None:
            return np.ones(len(self.aed_ids), dtype=bool)
        return self.hours_known


@dataclass(frozen=True)
class Assignment:
    person_id: int
    route: str  # "direct" | "via_aed"
    aed_id: int | None
    walk_m: int
    eta_s: int
    likelihood: float


@dataclass
class AlreadyAlerted:
    """What earlier waves did, so a later wave keeps the direct/AED mix and AEDs unshared."""

    person_ids: set[int] = field(default_factory=set)
    aed_ids: set[int] = field(default_factory=set)
    total: int = 0
    via_aed: int = 0


PRIOR_LIKELIHOOD = 0.3  # about a third of alerts are accepted in the published systems


def likelihood_from_counts(alerted: int, accepted: int) -> float:
    """Beta(1.5, 3.5) prior (mean 0.3), so two ignored alerts do not condemn anyone."""
    return (accepted + 1.5) / (alerted + 5.0)


def plan(
    lat: float,
    lng: float,
    candidates: Candidates,
    aeds: AedSites,
    policy: Policy,
    *,
    count: int,
    router: Router | None = None,
    before: AlreadyAlerted | None = None,
) -> list[Assignment]:
    """The next `count` responders to alert, nearest and likeliest first, each sent straight to
    the patient or via an AED that is open now and costs at most `aed_detour_percent` extra.
    About `direct_percent` of everyone alerted goes straight; the rest fetch an AED when one
    lies (almost) on their way; no AED is given to two responders."""
    router = router or DetourRouter(policy.detour_factor)
    before = before or AlreadyAlerted()
    if count <= 0 or len(candidates.person_ids) == 0:
        return []
    straight = haversine_many(lat, lng, candidates.lats, candidates.lngs)
    fresh = np.array(
        [int(pid) not in before.person_ids for pid in candidates.person_ids], dtype=bool
    )
    inside = np.flatnonzero((straight <= policy.radius_m) & fresh)
    if len(inside) == 0:
        return []
    walk = router.walk_m(lat, lng, candidates.lats[inside], candidates.lngs[inside])
    eta = walk / policy.walking_speed
    # A likely responder a little further away beats an unlikely one next door: the expected
    # time is scaled by up to 2x for someone who never accepts.
    score = eta * (2.0 - candidates.likelihood[inside])
    order = inside[np.argsort(score, kind="stable")][:count]
    walk_by_position = dict(zip(inside.tolist(), walk.tolist(), strict=True))

    via_cost = np.full((len(order), len(aeds.aed_ids)), np.inf)
    if len(aeds.aed_ids):
        aed_to_patient = router.walk_m(lat, lng, aeds.lats, aeds.lngs)
        for row, position in enumerate(order):
            to_aed = router.walk_m(
                float(candidates.lats[position]),
                float(candidates.lngs[position]),
                aeds.lats,
                aeds.lngs,
            )
            via_cost[row] = to_aed + aed_to_patient
    taken = set(before.aed_ids)
    total, via_count = before.total, before.via_aed
    plans: list[Assignment] = []
    for row, position in enumerate(order):
        direct_m = walk_by_position[int(position)]
        person_id = int(candidates.person_ids[position])
        route, aed_id, distance = "direct", None, direct_m
        # Rounded, so the first responder may fetch an AED that lies on their way.
        wanted_via = math.floor((total + 1) * (100 - policy.direct_percent) / 100 + 0.5)
        if via_count < wanted_via and len(aeds.aed_ids):
            costs = via_cost[row].copy()
            for column, candidate in enumerate(aeds.aed_ids):
                if int(candidate) in taken:
                    costs[column] = np.inf
            limit = direct_m * (1 + policy.aed_detour_percent / 100) + 1e-6
            known = aeds.known()
            # An AED known to be open first; one whose hours are unknown only if none is.
            for pool in (known, ~known):
                pooled = np.where(pool, costs, np.inf)
                best = int(np.argmin(pooled))
                if pooled[best] <= limit:
                    route, aed_id = "via_aed", int(aeds.aed_ids[best])
                    distance = float(pooled[best])
                    taken.add(aed_id)
                    via_count += 1
                    break
        total += 1
        plans.append(
            Assignment(
                person_id=person_id,
                route=route,
                aed_id=aed_id,
                walk_m=round(distance),
                eta_s=round(distance / policy.walking_speed),
                likelihood=float(candidates.likelihood[position]),
            )
        )
    return plans


def reach_m(policy: Policy, minutes: float = 3.0) -> float:
    """Straight-line metres a lay responder covers in `minutes` on foot."""
    return minutes * 60 * policy.walking_speed / policy.detour_factor


@dataclass(frozen=True)
class Coverage:
    covered_weight: int
    total_weight: int

    @property
    def share(self) -> float:
        return self.covered_weight / self.total_weight if self.total_weight else 0.0


def coverage(
    points_lat: FloatArray,
    points_lng: FloatArray,
    weights: IntArray,
    aeds: GeoIndex,
    reach: float,
) -> tuple[Coverage, NDArray[np.bool_]]:
    near = aeds.nearest_distance(points_lat, points_lng) <= reach
    return Coverage(int(weights[near].sum()), int(weights.sum())), near


def greedy_placement(
    points_lat: FloatArray,
    points_lng: FloatArray,
    weights: IntArray,
    already_covered: NDArray[np.bool_],
    reach: float,
    k: int,
) -> list[tuple[int, int]]:
    """Choose up to k sites among the population points that add the most uncovered weight,
    one at a time (greedy maximum coverage: within 1 − 1/e of the best possible).
    Returns (position of the chosen point, weight it adds)."""
    uncovered = ~already_covered.copy()
    if not uncovered.any() or k <= 0:
        return []
    index = GeoIndex(np.arange(len(points_lat)), points_lat, points_lng)
    neighbours = index.within_many(points_lat, points_lng, reach)
    chosen: list[tuple[int, int]] = []
    for _ in range(k):
        best, best_gain = -1, 0
        for site in np.flatnonzero(uncovered):
            gain = int(weights[[n for n in neighbours[site] if uncovered[n]]].sum())
            if gain > best_gain:
                best, best_gain = int(site), gain
        if best < 0:
            break
        chosen.append((best, best_gain))
        for n in neighbours[best]:
            uncovered[n] = False
    return chosen
