"""The matching arithmetic, against brute force and against the published rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gongchuang.emergency import matching
from tests.emergency.conftest import SITE, at


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    radius=st.floats(50, 5000),
    lat=st.floats(18.5, 53),
    lng=st.floats(73.5, 134),
)
def test_the_index_finds_exactly_what_haversine_brute_force_finds(seed, radius, lat, lng) -> None:
    rng = np.random.default_rng(seed)
    lats = lat + rng.uniform(-0.08, 0.08, 3000)
    lngs = lng + rng.uniform(-0.08, 0.08, 3000)
    index = matching.GeoIndex(np.arange(3000), lats, lngs)
    found = set(index.within(lat, lng, radius).tolist())
    distances = matching.haversine_many(lat, lng, lats, lngs)
    # Points within a millimetre of the boundary may fall either way in floating point.
    sure = set(np.flatnonzero(distances < radius - 1e-3).tolist())
    maybe = set(np.flatnonzero(distances <= radius + 1e-3).tolist())
    assert sure <= found <= maybe


def test_nearest_in_raw_degrees_is_wrong_where_the_index_is_right() -> None:
    """Why the index works on the sphere: at 45°N a degree of longitude is 71% of one of
    latitude, so 'nearest' in degrees picks the wrong AED."""
    lats = np.array([45.0 + 0.0080, 45.0])
    lngs = np.array([10.0, 10.0 + 0.0100])
    d_degrees = np.hypot(lats - 45.0, lngs - 10.0)
    d_metres = matching.haversine_many(45.0, 10.0, lats, lngs)
    assert np.argmin(d_degrees) == 0 and np.argmin(d_metres) == 1
    index = matching.GeoIndex([0, 1], lats, lngs)
    assert abs(index.nearest_distance(np.array([45.0]), np.array([10.0]))[0] - min(d_metres)) < 1e-6


def test_grid_cells_cover_every_point_within_the_radius() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        lat, lng = rng.uniform(20, 50), rng.uniform(75, 130)
        radius = rng.uniform(100, 3000)
        cells = set(matching.cells_around(lat, lng, radius))
        for bearing in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            d_lat = radius * 0.999 * np.cos(bearing) / matching.METRES_PER_DEGREE
            d_lng = (
                radius
                * 0.999
                * np.sin(bearing)
                / (matching.METRES_PER_DEGREE * np.cos(np.radians(lat)))
            )
            assert matching.geo_cell(lat + d_lat, lng + d_lng) in cells


def candidates(*offsets: tuple[float, float], likelihood: list[float] | None = None):
    rows = [(i + 1, *at(n, e)) for i, (n, e) in enumerate(offsets)]
    chances = {i + 1: p for i, p in enumerate(likelihood or [])}
    return matching.Candidates.of(rows, chances)


def test_nearest_first_within_the_radius_and_a_third_go_straight() -> None:
    people = candidates(*[(100 * k, 0) for k in range(1, 14)])  # 100 m … 1,300 m north
    aeds = matching.AedSites.of([(k, *at(100 * k - 50, 0)) for k in range(1, 14)])
    plans = matching.plan(*SITE, people, aeds, matching.Policy(), count=30)
    assert [p.person_id for p in plans] == list(range(1, 11))  # 1,100 m+ is outside
    via = [p for p in plans if p.route == "via_aed"]
    assert len(via) == 7 and len({p.aed_id for p in via}) == 7  # two thirds, no AED shared
    first = plans[0]
    assert first.route == "via_aed" and first.walk_m == round(100 * 1.3)
    assert first.eta_s == round(first.walk_m / 2.3)


def test_an_aed_off_the_way_is_not_worth_the_detour() -> None:
    people = candidates((300, 0), (-400, 0), (0, 500))
    aeds = matching.AedSites.of([(9, *at(150, 0))])
    plans = matching.plan(*SITE, people, aeds, matching.Policy(), count=3)
    assert [(p.person_id, p.route, p.aed_id) for p in plans] == [
        (1, "via_aed", 9),
        (2, "direct", None),
        (3, "direct", None),
    ]


def test_a_responder_who_tends_to_accept_is_asked_before_a_slightly_nearer_one() -> None:
    people = candidates((400, 0), (450, 0), likelihood=[0.05, 0.9])
    plans = matching.plan(*SITE, people, matching.AedSites.of([]), matching.Policy(), count=1)
    assert plans[0].person_id == 2


def test_later_waves_skip_those_already_alerted_and_their_aeds() -> None:
    people = candidates((100, 0), (200, 0))
    aeds = matching.AedSites.of([(5, *at(50, 0)), (6, *at(150, 0))])
    before = matching.AlreadyAlerted(person_ids={1}, aed_ids={5}, total=1, via_aed=1)
    plans = matching.plan(*SITE, people, aeds, matching.Policy(), count=5, before=before)
    assert [(p.person_id, p.aed_id) for p in plans] == [(2, None)] or [
        (p.person_id, p.aed_id) for p in plans
    ] == [(2, 6)]


def test_likelihood_prior_is_a_third_and_moves_with_evidence() -> None:
    assert abs(matching.likelihood_from_counts(0, 0) - 0.3) < 1e-9
    assert matching.likelihood_from_counts(10, 9) >= 0.7
    assert matching.likelihood_from_counts(10, 0) < 0.11


def test_greedy_placement_picks_the_heaviest_uncovered_cluster_first() -> None:
    lats = np.array([at(0, 0)[0], at(10, 0)[0], at(3000, 0)[0]])
    lngs = np.array([at(0, 0)[1], at(10, 0)[1], at(3000, 0)[1]])
    weights = np.array([100, 100, 50])
    chosen = matching.greedy_placement(lats, lngs, weights, np.zeros(3, bool), 300, 5)
    assert chosen[0][1] == 200 and chosen[1] == (2, 50) and len(chosen) == 2
