"""The emergency API: intake from a 120 centre, responders' answers, AEDs, CAP, errors."""

from __future__ import annotations

import json
import time
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


def _signed_post(client, ew: EmergencyWorld, body: bytes, signature: str, key: str):
    return client.post(
        f"/api/v1/emergency/centres/{ew.centre.code}/incidents",
        content=body,
        headers={
            **api_token(client, ew.dispatcher.phone, ["emergency.dispatch"]),
            "Content-Type": "application/json",
            "X-Gongchuang-Signature": signature,
            "Idempotency-Key": key,
        },
    )


def test_a_captured_intake_sent_again_with_a_new_key_is_refused(
    client, ew, session: Session
) -> None:
    body = eido("REPLAY-1")
    signature = sign(ew.secret, body)
    first = _signed_post(client, ew, body, signature, "k-first")
    assert first.status_code == 201
    # Within the signature's 300 s: the same bytes and signature with a key of the replayer's.
    replayed = _signed_post(client, ew, body, signature, "k-replayed")
    assert replayed.status_code == 409
    assert replayed.headers["content-type"].startswith("application/problem+json")
    assert "已经收到" in replayed.json()["detail"]
    # The centre's own retry of the same request (its key) is answered with the first incident.
    retry = _signed_post(client, ew, body, signature, "k-first")
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    # Signed afresh, the same document with a new key is a new incident, as before.
    assert _signed_post(client, ew, body, sign(ew.secret, body, int(time.time()) + 1), "k-new")
    assert session.scalar(select(func.count(Incident.id))) == 2


def test_a_refused_intake_does_not_spend_its_signature(client, ew, session: Session) -> None:
    """Nothing accepted, nothing remembered: the transaction that refused it rolled back."""
    body = eido("REPLAY-2")
    signature = sign(ew.secret, body)
    assert _signed_post(client, ew, body, signature, "").status_code == 422
    assert _signed_post(client, ew, body, signature, "k-1").status_code == 201


def test_an_intake_over_its_size_is_refused_before_it_is_read(client, ew, session: Session) -> None:
    document = json.loads(eido("BIG-1"))
    document["padding"] = "x" * (5 * 1024 * 1024)
    body = json.dumps(document).encode()
    refused = intake(client, ew, body, key="k-big")
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "64 KB" in refused.json()["detail"]
    assert session.scalar(select(func.count(Incident.id))) == 0


def test_only_what_the_platform_reads_of_an_intake_is_kept(client, ew, session: Session) -> None:
    document = json.loads(eido("EXTRA-1"))
    document["vendorBlob"] = {"anything": "x" * 2000}
    document["incidentComponent"]["callerIdentity"] = "13912345678"
    created = intake(client, ew, json.dumps(document).encode(), key="k-extra")
    assert created.status_code == 201
    kept = session.get(Incident, created.json()["id"])
    assert kept is not None
    assert "vendorBlob" not in kept.eido
    assert "callerIdentity" not in kept.eido["incidentComponent"]
    assert kept.eido["incidentComponent"]["incidentTrackingIdentifier"] == "EXTRA-1"


def test_menus_offer_what_the_persons_roles_allow(client, ew: EmergencyWorld, session) -> None:
    """A village committee's administrator holds the "admin" role, which carries dispatching
    and venue rights in a 120 centre or a venue: in the village, neither is offered nor held."""
    import pytest

    from gongchuang.core.errors import NotFound
    from gongchuang.emergency import service
    from gongchuang.emergency.schemas import CentreIn
    from tests.conftest import login
    from tests.emergency.conftest import SITE
    from tests.support.principals import acting

    cadre = ew.world.cadre_a  # admin of the village committee
    session.commit()
    login(client, cadre.phone)
    home = client.get("/emergency").text
    assert "/emergency/console" not in home
    assert "/emergency/centres/" not in home and "/emergency/venues/" not in home
    assert client.get(f"/emergency/centres/{ew.world.village_a.id}").status_code == 404
    with pytest.raises(NotFound):
        service.save_centre(
            session,
            acting(cadre),
            ew.world.village_a,
            CentreIn(code="village-120", name="村120", lat=SITE[0], lng=SITE[1]),
        )

    client.cookies.clear()
    login(client, ew.dispatcher.phone)
    home = client.get("/emergency").text
    assert "/emergency/console" in home and f"/emergency/centres/{ew.dispatch.id}" in home
