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


def test_walking_directions_hand_map_apps_gcj02_in_china_and_wgs84_outside() -> None:
    from gongchuang.core.geo import walking_directions, wgs84_to_gcj02

    links = {link.app: link.url for link in walking_directions(27.737, 111.305, "商场 北门&1")}
    shifted = wgs84_to_gcj02(27.737, 111.305)
    assert f"to={shifted.lng:.6f},{shifted.lat:.6f}," in links["amap"]
    assert "coord_type=gcj02" in links["baidu"] and f"{shifted.lat:.6f}" in links["baidu"]
    assert f"daddr={shifted.lat:.6f},{shifted.lng:.6f}" in links["apple"]
    assert "%E5%95%86%E5%9C%BA%20%E5%8C%97%E9%97%A8%261" in links["amap"]  # the name, quoted
    abroad = {link.app: link.url for link in walking_directions(48.8566, 2.3522, "Paris")}
    assert "daddr=48.856600,2.352200" in abroad["apple"]
