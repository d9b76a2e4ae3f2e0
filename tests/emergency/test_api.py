"""The emergency API: intake from a 120 centre, responders' answers, AEDs, CAP, errors."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.webhooks import sign
from gongchuang.emergency.models import Aed, Incident
from tests.conftest import api_token
from tests.emergency.conftest import EmergencyWorld, eido


def intake(client, ew: EmergencyWorld, body: bytes, key: str = "k-1", secret: str | None = None):
    headers = api_token(client, ew.dispatcher.phone, ["emergency.dispatch"])
    return client.post(
        f"/api/v1/emergency/centres/{ew.centre.code}/incidents",
        content=body,
        headers={
            **headers,
            "Content-Type": "application/json",
            "X-Gongchuang-Signature": sign(secret or ew.secret, body),
            "Idempotency-Key": key,
        },
    )


def test_intake_alerts_and_a_resend_returns_the_same_incident(client, ew, session: Session) -> None:
    first = intake(client, ew, eido())
    assert first.status_code == 201 and first.json()["alerted"] == 3
    again = intake(client, ew, eido())
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    clash = intake(client, ew, eido("other"))
    assert clash.status_code == 409
    assert clash.headers["content-type"].startswith("application/problem+json")


def test_intake_refuses_bad_signatures_documents_and_places(client, ew, session: Session) -> None:
    assert intake(client, ew, eido(), secret="0" * 64).status_code == 401
    broken = intake(client, ew, b'{"incidentComponent": {}}', key="k-2")
    assert broken.status_code == 422 and broken.json()["errors"]
    abroad = intake(
        client, ew, eido(locationComponent={"latitude": 48.85, "longitude": 2.35}), key="k-3"
    )
    assert abroad.status_code == 422
    assert session.scalar(select(func.count(Incident.id))) == 0


def test_a_responder_answers_in_one_tap_and_not_after_closing(client, ew, session) -> None:
    incident_id = intake(client, ew, eido()).json()["id"]
    north = ew.responders[0]
    responder = api_token(client, north.phone, ["emergency.respond"])
    alerts = client.get("/api/v1/emergency/me/alerts", headers=responder).json()
    assert (
        alerts[0]["route"] == "via_aed" and alerts[0]["aed"]["indoor_directions"] == "北门保安亭内"
    )
    alert_id = alerts[0]["id"]
    accepted = client.post(
        f"/api/v1/emergency/alerts/{alert_id}/answer", json={"accept": True}, headers=responder
    )
    assert accepted.json()["status"] == "accepted"
    dispatcher = api_token(client, ew.dispatcher.phone, ["emergency.dispatch"])
    closed = client.post(
        f"/api/v1/emergency/incidents/{incident_id}/close",
        json={"witnessed": True, "aed_applied": True, "shock_delivered": True, "rosc": True},
        headers=dispatcher,
    )
    assert closed.json()["status"] == "closed"
    south = api_token(client, ew.responders[1].phone, ["emergency.respond"])
    south_alert = client.get("/api/v1/emergency/me/alerts", headers=south).json()[0]["id"]
    late = client.post(
        f"/api/v1/emergency/alerts/{south_alert}/answer", json={"accept": True}, headers=south
    )
    assert late.status_code == 409
    cap = client.get(f"/api/v1/emergency/incidents/{incident_id}/cap", headers=dispatcher)
    root = ElementTree.fromstring(cap.content)
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    assert root.find("cap:msgType", ns).text == "Update"
    assert root.find("cap:info/cap:area/cap:circle", ns).text.endswith(" 0.3")
    detail = client.get(f"/api/v1/emergency/incidents/{incident_id}", headers=dispatcher).json()
    assert [t["kind"] for t in detail["timeline"]][-1] == "closed"


def test_aeds_are_public_nearby_and_imported_all_or_nothing(client, ew, session) -> None:
    nearby = client.get("/api/v1/emergency/aeds", params={"lat": 27.7370, "lng": 111.3050})
    assert nearby.status_code == 200 and nearby.json()[0]["address"] == "商场北门"
    assert "guardian" not in json.dumps(nearby.json())
    staff = api_token(client, ew.mall_staff.phone, ["emergency.venue"])
    bad = client.post(
        f"/api/v1/emergency/organisations/{ew.mall.id}/aeds/import",
        files={"file": ("aeds.csv", "lat,lng,address\n27.73,111.30,一楼\n,,二楼\n".encode())},
        headers=staff,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["row"] == 3
    assert session.scalar(select(func.count(Aed.id))) == 1
    exported = client.get(
        f"/api/v1/emergency/organisations/{ew.mall.id}/aeds/export",
        params={"format": "geojson"},
        headers=staff,
    ).json()
    assert exported["features"][0]["properties"]["emergency"] == "defibrillator"
    outsider = api_token(client, ew.world.outsider.phone, ["emergency.venue"])
    assert (
        client.get(
            f"/api/v1/emergency/organisations/{ew.mall.id}/aeds", headers=outsider
        ).status_code
        == 404
    )


def test_going_off_duty_and_back_with_a_new_place(client, ew, session) -> None:
    headers = api_token(client, ew.responders[0].phone, ["emergency.respond"])
    off = client.put(
        "/api/v1/emergency/me/responder/duty", json={"on_duty": False}, headers=headers
    )
    assert off.json()["on_duty"] is False
    back = client.put(
        "/api/v1/emergency/me/responder/duty",
        json={"on_duty": True, "location": {"lat": 27.7, "lng": 111.3}},
        headers=headers,
    )
    # The consent given earlier still stands; outside China is refused.
    assert back.status_code == 200 and back.json()["on_duty"] is True
    abroad = client.put(
        "/api/v1/emergency/me/responder/duty",
        json={"on_duty": True, "location": {"lat": 48.85, "lng": 2.35}},
        headers=headers,
    )
    assert abroad.status_code == 422
