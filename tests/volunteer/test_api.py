"""The volunteer API with scoped tokens; every response is checked against the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.models import Notification
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Activity, Shift, Signup
from tests.conftest import api_token, csrf_token, login
from tests.support.principals import acting
from tests.support.world import PASSWORD
from tests.volunteer.conftest import SITE, VolunteerWorld, move_shift

ORGANISER = ["read", "volunteer.manage", "volunteer.participate"]
VOLUNTEER = ["read", "volunteer.participate"]


def shift_body(starts_in: timedelta = timedelta(days=2), capacity: int = 3) -> dict:
    starts = utcnow() + starts_in
    return {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(),
        "capacity": capacity,
    }


def activity_body(vw: VolunteerWorld, **changes) -> dict:
    body = {
        "organisation_id": vw.team.id,
        "title": "河岸清洁",
        "category": "environment",
        "place": "资江风光带",
        "lat": SITE[0],
        "lng": SITE[1],
        "shifts": [shift_body()],
    }
    body.update(changes)
    return body


def test_publish_sign_up_check_in_confirm_certify(client, session: Session, vw) -> None:
    organiser = api_token(client, vw.organiser.phone, ORGANISER)
    created = client.post("/api/v1/volunteer/activities", json=activity_body(vw), headers=organiser)
    assert created.status_code == 201, created.text
    activity = created.json()
    shift_id = activity["shifts"][0]["id"]
    alice = api_token(client, vw.alice.phone, VOLUNTEER)
    recommended = client.get("/api/v1/volunteer/recommendations", headers=alice).json()
    assert activity["id"] in [r["activity"]["id"] for r in recommended]
    signed = client.post(f"/api/v1/volunteer/shifts/{shift_id}/signups", headers=alice)
    assert signed.status_code == 201 and signed.json()["status"] == "confirmed"
    shift = session.get(Shift, shift_id)
    assert shift is not None
    move_shift(session, shift, utcnow() + timedelta(minutes=5))
    session.commit()
    code = client.get(f"/api/v1/volunteer/shifts/{shift_id}/checkin-code", headers=organiser)
    assert code.json()["valid_seconds"] == 30
    checked = client.post(
        "/api/v1/volunteer/check", json={"code": code.json()["code"]}, headers=alice
    ).json()
    assert checked["action"] == "in"
    move_shift(session, shift, utcnow() - timedelta(hours=3))
    signup = session.scalar(select(Signup).where(Signup.shift_id == shift_id))
    assert signup is not None
    signup.checked_in_at = shift.starts_at
    session.commit()
    fresh = client.get(f"/api/v1/volunteer/shifts/{shift_id}/checkin-code", headers=organiser)
    out = client.post(
        "/api/v1/volunteer/check", json={"code": fresh.json()["code"]}, headers=alice
    ).json()
    assert out["action"] == "out" and out["signup"]["pending_minutes"] == 180
    roster = client.get(f"/api/v1/volunteer/shifts/{shift_id}/roster", headers=organiser).json()
    assert roster[0]["status"] == "checked_out"
    approved = client.post(
        "/api/v1/volunteer/hours/approvals",
        json={"signup_ids": [signup.id]},
        headers=organiser,
    )
    assert approved.json()["count"] == 1
    me = client.get("/api/v1/volunteer/me", headers=alice).json()
    assert me["hours"] == 3.0 and me["completed_shifts"] == 1
    # The period is in Beijing dates: after 16:00 UTC it is already tomorrow there.
    today = utcnow().astimezone(SHANGHAI).date().isoformat()
    certificate = client.post(
        "/api/v1/volunteer/me/certificates",
        json={"period_from": "2020-01-01", "period_to": today},
        headers=alice,
    ).json()
    check = client.get(f"/api/v1/volunteer/certificates/{certificate['code']}").json()
    assert check["hours"] == 3.0 and check["holder"] == "志***" and check["valid"]
    pdf = client.get(f"/api/v1/volunteer/me/certificates/{certificate['id']}.pdf", headers=alice)
    assert pdf.content.startswith(b"%PDF")
    card = client.get(
        me["card_url"].replace("http://testserver/volunteer/card/", "/api/v1/volunteer/cards/")
    )
    assert card.json()["hours"] == 3.0


@pytest.mark.parametrize(
    "who, expected", [("anonymous", 401), ("volunteer", 404), ("partner", 404), ("organiser", 201)]
)
def test_only_the_organisation_publishes(client, session: Session, vw, who, expected) -> None:
    phones = {
        "volunteer": vw.alice.phone,
        "partner": vw.partner_staff.phone,
        "organiser": vw.organiser.phone,
    }
    headers = (
        api_token(client, phones[who], ["read", "volunteer.manage", "volunteer.participate"])
        if who in ("organiser",)
        else api_token(client, phones[who], ["read", "volunteer.participate"])
        if who != "anonymous"
        else {}
    )
    before = session.scalar(select(func.count(Activity.id)))
    response = client.post("/api/v1/volunteer/activities", json=activity_body(vw), headers=headers)
    assert response.status_code in (expected, 403 if expected == 404 else expected)
    assert session.scalar(select(func.count(Activity.id))) == before + (expected == 201)


def test_bad_input_is_refused_whole(client, session: Session, vw) -> None:
    organiser = api_token(client, vw.organiser.phone, ORGANISER)
    response = client.post(
        "/api/v1/volunteer/activities",
        json=activity_body(vw, category="juggling", shifts=[shift_body(-timedelta(hours=1))]),
        headers={**organiser, "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "活动信息无效，未作任何保存"
    assert session.scalar(select(func.count(Activity.id))) == 0
    alice = api_token(client, vw.alice.phone, VOLUNTEER)
    checked = client.post(
        "/api/v1/volunteer/check",
        json={"code": "nonsense"},
        headers={**alice, "Accept-Language": "en"},
    )
    assert (
        checked.status_code == 422
        and checked.json()["detail"] == "This is not a check-in code of ours"
    )


def test_read_only_token_cannot_sign_up(client, session: Session, vw) -> None:
    _, shift = vw.activity(session)
    session.commit()
    reader = api_token(client, vw.alice.phone, ["read"])
    assert (
        client.post(f"/api/v1/volunteer/shifts/{shift.id}/signups", headers=reader).status_code
        == 403
    )
    full = client.post(
        "/api/v1/auth/tokens",
        json={
            "phone": vw.alice.phone,
            "password": PASSWORD,
            "name": "app",
            "scopes": ["read", "volunteer.participate"],
        },
    ).json()
    signed = client.post(
        f"/api/v1/volunteer/shifts/{shift.id}/signups",
        headers={"Authorization": f"Bearer {full['token']}"},
    )
    assert signed.status_code == 201


def test_pages_for_each_role(client, session: Session, vw) -> None:
    activity, _ = vw.activity(session)
    session.commit()
    login(client, vw.alice.phone)
    assert client.get("/volunteer").status_code == 200
    assert client.get(f"/volunteer/activities/{activity.id}").status_code == 200
    assert client.get(f"/volunteer/activities/{activity.id}/manage").status_code == 404
    assert client.get(f"/volunteer/orgs/{vw.team.id}").status_code == 404
    client.cookies.clear()
    login(client, vw.organiser.phone)
    assert client.get(f"/volunteer/activities/{activity.id}/manage").status_code == 200
    assert client.get(f"/volunteer/orgs/{vw.federation.id}").status_code == 200
    sheet = client.get(
        f"/volunteer/orgs/{vw.federation.id}/hours.xlsx",
        params={"period_from": "2026-01-01", "period_to": "2026-12-31"},
    )
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"


def test_editing_details_keeps_sign_ups_and_tells_of_a_move(client, session: Session, vw) -> None:
    activity, shift = vw.activity(session)
    service.sign_up(session, acting(vw.alice), shift.id)
    session.commit()
    login(client, vw.organiser.phone)
    response = client.post(
        f"/volunteer/activities/{activity.id}/edit",
        data={
            "csrf_token": csrf_token(client),
            "title": "敬老院陪伴（改）",
            "description": "",
            "place": "新敬老院",
            "lat": SITE[0] + 0.01,
            "lng": SITE[1],
            "geofence_m": 200,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert activity.title == "敬老院陪伴（改）" and activity.geofence_m == 200
    assert session.scalar(select(func.count(Signup.id)).where(Signup.status == "confirmed")) == 1
    moved = session.scalar(select(Notification).where(Notification.person_id == vw.alice.id))
    assert moved is not None and "place" in moved.title
