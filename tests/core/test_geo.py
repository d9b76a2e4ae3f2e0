from hypothesis import given
from hypothesis import strategies as st

from gongchuang.core.geo import Point, gcj02_to_wgs84, haversine_m, wgs84_to_gcj02

china_lat = st.floats(min_value=18.0, max_value=53.0)
china_lng = st.floats(min_value=74.0, max_value=134.0)


def test_known_offset_in_beijing() -> None:
    # Tiananmen: GCJ-02 sits a few hundred metres from WGS-84 in Beijing.
    wgs = Point(39.9087, 116.3975)
    gcj = wgs84_to_gcj02(wgs.lat, wgs.lng)
    offset = haversine_m(wgs, gcj)
    assert 300 < offset < 700


@given(china_lat, china_lng)
def test_round_trip_is_within_a_centimetre(lat: float, lng: float) -> None:
    gcj = wgs84_to_gcj02(lat, lng)
    back = gcj02_to_wgs84(gcj.lat, gcj.lng)
    assert haversine_m(Point(lat, lng), back) < 0.01


def test_outside_china_nothing_moves() -> None:
    assert wgs84_to_gcj02(51.5, -0.12) == Point(51.5, -0.12)


def test_haversine_matches_a_known_distance() -> None:
    # Beijing to Shanghai airports' city centres: about 1,068 km.
    distance = haversine_m(Point(39.9042, 116.4074), Point(31.2304, 121.4737))
    assert abs(distance - 1_068_000) < 5_000
