"""AEDs whose opening hours nobody recorded: stored as unknown (never as 24/7), shown so, sent
for only when no AED known to be open lies on the way, and the responder told."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.errors import InvalidInput
from gongchuang.core.permissions import SYSTEM
from gongchuang.emergency import service
from gongchuang.emergency.models import Aed, Route
from gongchuang.emergency.schemas import AedIn
from tests.conftest import api_token, login
from tests.emergency.conftest import EmergencyWorld, at, eido
from tests.support.principals import acting


def _features(*tags: dict[str, str]) -> bytes:
    features = []
    for number, extra in enumerate(tags, start=1):
        lat, lng = at(20 * number, 20)
        features.append(
            {
                "type": "Feature",
                "id": f"node/{1000 + number}",
                "geometry": {"type": "Point", "coordinates": [lng, lat]},
                "properties": {"emergency": "defibrillator", **extra},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def test_an_openstreetmap_aed_without_hours_is_stored_as_unknown(
    session: Session, ew: EmergencyWorld
) -> None:
    data = _features({"opening_hours": "Mo-Fr 08:00-18:00; PH off"}, {})
    assert service.import_aeds(session, acting(ew.mall_staff), ew.mall, data, "aeds.geojson") == 2
    hours = sorted(
        session.scalars(select(Aed.opening_hours).where(Aed.organisation_id == ew.mall.id)),
        key=str,
    )
    assert hours == ["24/7", "Mo-Fr 08:00-18:00; PH off", None]


def test_hours_that_cannot_be_read_are_refused_at_import_with_the_reason(
    session: Session, ew: EmergencyWorld
) -> None:
    before = session.scalar(select(func.count(Aed.id)))
    data = _features({"opening_hours": "24/7"}, {"opening_hours": "Mo-Fr 8-17"})
    with pytest.raises(InvalidInput) as refused:
        service.import_aeds(session, acting(ew.mall_staff), ew.mall, data, "aeds.geojson")
    [error] = refused.value.errors
    assert error["feature"] == 2 and error["id"] == "node/1002"
    assert error["field"] == "opening_hours" and "at character 7" in error["message"]
    assert session.scalar(select(func.count(Aed.id))) == before


def _north_alert(session: Session, ew: EmergencyWorld, external_id: str):  # type: ignore[no-untyped-def]
    incident, _ = ew.receive(session, eido(external_id), key=external_id)
    return next(
        a for a in incident_alerts(session, incident.id) if a.person_id == ew.responders[0].id
    )


def incident_alerts(session: Session, incident_id: int):  # type: ignore[no-untyped-def]
    from gongchuang.emergency.models import Alert

    return list(session.scalars(select(Alert).where(Alert.incident_id == incident_id)))


def test_an_aed_known_to_be_open_is_preferred_to_one_whose_hours_are_unknown(
    session: Session, ew: EmergencyWorld
) -> None:
    # The world's AED, 150 m north on the responder's way, loses its hours; another, open all
    # day, lies just beside it, a few metres further.
    ew.aed.opening_hours = None
    lat, lng = at(160, 12)
    known = service.create_aed(
        session,
        SYSTEM,
        ew.mall,
        AedIn(lat=lat, lng=lng, address="北门便利店", opening_hours="24/7"),
    )
    alert = _north_alert(session, ew, "HOURS-1")
    assert alert.route == Route.via_aed and alert.aed_id == known.id


def test_an_aed_of_unknown_hours_is_still_sent_for_when_none_is_known_open(
    client, session: Session, ew: EmergencyWorld
) -> None:
    ew.aed.opening_hours = None
    session.commit()
    alert = _north_alert(session, ew, "HOURS-2")
    assert alert.route == Route.via_aed and alert.aed_id == ew.aed.id
    session.commit()
    responder = api_token(client, ew.responders[0].phone, ["emergency.respond"])
    [shown] = [
        a
        for a in client.get("/api/v1/emergency/me/alerts", headers=responder).json()
        if a["id"] == alert.id
    ]
    assert shown["aed"]["opening_hours"] is None and shown["aed"]["hours_now"] == "unknown"
    assert shown["aed"]["usable_now"] is False
    login(client, ew.responders[0].phone)
    page = client.get(f"/emergency/alerts/{alert.id}")
    assert page.status_code == 200
    assert 'data-testid="aed-hours-unknown"' in page.text and "开放时间不明" in page.text


def test_a_closed_aed_is_never_sent_for_but_unknown_hours_are_not_closed(
    session: Session, ew: EmergencyWorld
) -> None:
    now = service.utcnow()
    ew.aed.opening_hours = "Mo-Su off"
    assert service.worth_sending_for(ew.aed, now) is None
    ew.aed.opening_hours = None
    assert service.worth_sending_for(ew.aed, now) is not None
    assert not service.usable_at(ew.aed, now)


def test_the_venue_form_takes_empty_hours_as_unknown_and_the_working_calendar(
    client, session: Session, ew: EmergencyWorld
) -> None:
    from tests.conftest import csrf_token

    login(client, ew.mall_staff.phone)
    lat, lng = at(40, 40)
    response = client.post(
        f"/emergency/venues/{ew.mall.id}/aeds",
        data={
            "csrf_token": csrf_token(client),
            "lat": str(lat),
            "lng": str(lng),
            "crs": "WGS84",
            "address": "办公楼一楼",
            "opening_hours": "",
            "follows_workdays": "true",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    aed = session.scalar(select(Aed).where(Aed.address == "办公楼一楼"))
    assert aed is not None and aed.opening_hours is None and aed.follows_workdays
    venue = client.get(f"/emergency/venues/{ew.mall.id}")
    assert "可能可用：开放时间不明" in venue.text and "按工作日开放" in venue.text
    public = client.get(f"/emergency/aeds?lat={lat}&lng={lng}")
    assert "不明" in public.text
