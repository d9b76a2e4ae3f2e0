"""The points API as a WeChat mini-program would use it; every response is checked against the
OpenAPI schema by the client."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.identity import mask_name
from gongchuang.points import service
from gongchuang.points.models import PointRecord, PublicNotice
from tests.conftest import api_token, csrf_token, login
from tests.points.conftest import PointsWorld, png_bytes

FULL = [
    "read",
    "points.participate",
    "points.record",
    "points.approve",
    "points.manage",
    "points.shop",
    "points.view",
]


def url(pw: PointsWorld, path: str = "") -> str:
    return f"/api/v1/points/villages/{pw.village.id}{path}"


def test_villager_and_cadres_do_the_journey_through_the_api(
    client, session: Session, pw: PointsWorld
) -> None:
    villager = api_token(client, pw.villager.phone, ["read", "points.participate"])
    photo = client.post(
        "/api/v1/files", files={"file": ("p.png", png_bytes(), "image/png")}, headers=villager
    )
    assert photo.status_code == 201
    today = service.today_local().isoformat()
    created = client.post(
        url(pw, "/records"),
        json={"rule_code": "GY01", "occurred_on": today, "evidence_file_id": photo.json()["id"]},
        headers=villager,
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert (record["status"], record["points"], record["has_evidence"]) == ("pending", 3, True)
    leader = api_token(client, pw.leader.phone, ["read", "points.approve"])
    waiting = client.get(url(pw, "/approvals"), headers=leader).json()
    assert [r["id"] for r in waiting] == [record["id"]]
    decided = client.post(
        url(pw, f"/records/{record['id']}/decision"), json={"decision": "approve"}, headers=leader
    )
    assert decided.json()["approval_step"] == 1
    cadre = api_token(client, pw.cadre.phone, FULL)
    decided = client.post(
        url(pw, f"/records/{record['id']}/decision"), json={"decision": "approve"}, headers=cadre
    )
    assert decided.json()["status"] == "in_notice"
    board = client.get(url(pw, "/notices"), headers=villager).json()
    assert board[0]["is_open"] and [r["id"] for r in board[0]["records"]] == [record["id"]]
    pdf = client.get(url(pw, f"/notices/{board[0]['id']}.pdf"), headers=villager)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # The public notice is public: the page and its printable PDF, without any account.
    assert not client.cookies.get("gc_session")
    public = client.get(f"/points/villages/{pw.village.id}/board")
    # (by surname only: this villager has not agreed to show the name online)
    assert public.status_code == 200 and mask_name(pw.villager.name) in public.text
    assert pw.villager.name not in public.text
    public_pdf = client.get(f"/points/villages/{pw.village.id}/notices/{board[0]['id']}.pdf")
    assert public_pdf.status_code == 200 and public_pdf.content.startswith(b"%PDF")
    neighbour = api_token(client, pw.neighbour.phone, ["read", "points.participate"])
    objection = client.post(
        url(pw, f"/records/{record['id']}/objections"),
        json={"reason": "他那天不在村里"},
        headers=neighbour,
    )
    assert objection.status_code == 201
    answered = client.post(
        url(pw, f"/objections/{objection.json()['id']}/decision"),
        json={"uphold": False, "answer": "经核实，当天在村参加了劳动。"},
        headers=cadre,
    )
    assert answered.json()["status"] == "dismissed"
    notice = session.get(PublicNotice, board[0]["id"])
    assert notice is not None
    notice.closes_at = service.utcnow()
    session.commit()
    admin = api_token(client, pw.world.admin.phone, ["read", "points.manage"])
    settled = client.post("/api/v1/points/settlement", headers=admin).json()
    assert settled["records"] == 1
    mine = client.get(url(pw, "/me/account"), headers=villager).json()
    assert mine["balance"] == 3
    items = client.get(url(pw, "/shop/items"), headers=villager).json()
    redeemed = client.post(
        url(pw, "/redemptions"), json={"item_id": items[0]["id"]}, headers=villager
    )
    assert redeemed.status_code == 409  # 3 points do not buy 5-point soap
    assert redeemed.headers["content-type"].startswith("application/problem+json")
    entries = client.get(url(pw, f"/accounts/{mine['id']}/entries"), headers=villager).json()
    assert [(e["kind"], e["delta"]) for e in entries] == [("settlement", 3)]
    county = api_token(client, pw.world.county_staff.phone, ["read", "points.dashboard"])
    rollup = client.get(
        f"/api/v1/points/regions/{pw.world.county.code}/dashboard", headers=county
    ).json()
    assert rollup["totals"]["points"] == 3


@pytest.mark.parametrize(
    "who, expected",
    [("anonymous", 401), ("outsider", 404), ("villager", 404), ("cadre_b", 404), ("cadre", 201)],
)
def test_only_the_village_committee_manages_its_shop(
    client, pw: PointsWorld, who: str, expected: int
) -> None:
    people = {
        "outsider": pw.world.outsider,
        "villager": pw.villager,
        "cadre_b": pw.world.cadre_b,
        "cadre": pw.cadre,
    }
    headers = api_token(client, people[who].phone, FULL) if who != "anonymous" else {}
    before = len(
        client.get(url(pw, "/shop/items"), headers=api_token(client, pw.cadre.phone, FULL)).json()
    )
    response = client.post(
        url(pw, "/shop/items"),
        json={"name": "毛巾", "price_points": 8, "unit_cost_fen": 600, "stock": 3},
        headers=headers,
    )
    assert response.status_code == expected
    after = len(
        client.get(url(pw, "/shop/items"), headers=api_token(client, pw.cadre.phone, FULL)).json()
    )
    assert after == before + (1 if expected == 201 else 0)


def test_read_only_token_cannot_report(client, session: Session, pw: PointsWorld) -> None:
    reader = api_token(client, pw.villager.phone, ["read"])
    assert client.get(url(pw, "/catalogue"), headers=reader).status_code == 200
    response = client.post(
        url(pw, "/records"),
        json={"rule_code": "GY02", "occurred_on": service.today_local().isoformat()},
        headers=reader,
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count(PointRecord.id))) == 0


def test_bad_input_is_a_problem_in_the_users_language(client, session: Session, pw) -> None:
    cadre = api_token(client, pw.cadre.phone, FULL)
    response = client.post(
        url(pw, "/records/batch"),
        json={
            "rule_code": "GY02",
            "occurred_on": service.today_local().isoformat(),
            "person_ids": [pw.villager.id, pw.world.outsider.id],
        },
        headers={**cadre, "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 422
    body = response.json()
    assert "不是本村" in body["errors"][0]["message"] and body["errors"][0]["line"] == 2
    assert "未保存" in body["detail"] or "没有保存" in body["detail"]
    english = client.post(
        url(pw, "/records"),
        json={"rule_code": "NOPE", "occurred_on": service.today_local().isoformat()},
        headers={**cadre, "Accept-Language": "en"},
    )
    assert english.status_code == 422 and english.json()["detail"] == "Unknown rule NOPE"
    assert session.scalar(select(func.count(PointRecord.id))) == 0


def test_excel_import_through_the_page_lists_bad_rows(client, session: Session, pw) -> None:
    from gongchuang.core.spreadsheets import workbook_bytes

    login(client, pw.cadre.phone)
    today = service.today_local().isoformat()
    sheet = workbook_bytes(
        ["手机号", "规则编号", "日期"],
        [[pw.villager.phone, "GY02", today], ["13999999999", "GY02", today]],
        "s",
    )
    response = client.post(
        f"/points/villages/{pw.village.id}/import",
        data={"csrf_token": csrf_token(client)},
        files={"file": ("r.xlsx", sheet, "application/octet-stream")},
    )
    assert response.status_code == 422
    assert "13999999999" in response.text and "3" in response.text
    assert session.scalar(select(func.count(PointRecord.id))) == 0


@pytest.mark.parametrize(
    "who, manage, dashboard",
    [
        ("outsider", 404, 404),
        ("villager", 404, 200),
        ("county_staff", 404, 200),  # oversees and views, but does not run the village
        ("cadre", 200, 200),
    ],
)
def test_pages_open_to_whom_they_should(client, pw: PointsWorld, who, manage, dashboard) -> None:
    people = {
        "outsider": pw.world.outsider,
        "villager": pw.villager,
        "county_staff": pw.world.county_staff,
        "cadre": pw.cadre,
    }
    login(client, people[who].phone)
    base = f"/points/villages/{pw.village.id}"
    assert client.get(base + "/manage").status_code == manage
    assert client.get(base + "/cards.pdf").status_code == manage
    assert client.get(base + "/board").status_code == 200  # the public notice is public
    assert client.get(base + "/dashboard").status_code == dashboard


def test_anonymous_visitors_are_sent_to_log_in(client, pw: PointsWorld) -> None:
    response = client.get(f"/points/villages/{pw.village.id}/records", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_the_public_notice_is_read_without_an_account(
    client, pw: PointsWorld, session: Session
) -> None:
    """公示 is posted for the whole village: anyone reads it and its printable PDF, with the
    villagers' names and points but no phone or ID number, and no links into signed-in pages
    (the PDF is read without an account in the journey above)."""
    board = client.get(f"/points/villages/{pw.village.id}/board")
    assert board.status_code == 200
    assert "/records/" not in board.text and "/shop" not in board.text
    assert pw.villager.phone not in board.text and pw.villager.phone[:3] + "****" not in board.text
    assert client.get(f"/points/villages/{pw.world.county_department.id}/board").status_code == 404


def test_the_shop_offers_only_what_the_villager_can_redeem(
    client, pw: PointsWorld, session: Session
) -> None:
    """No redeem button that can only fail: an item out of stock says so, one the balance does
    not reach says how many points are missing; a refusal reads as plain words."""
    from gongchuang.core.permissions import SYSTEM
    from gongchuang.points import shop

    service.account_of_person(session, pw.village, pw.villager.id, create=True)  # balance 0
    shop.add_item(session, SYSTEM, pw.village, name="毛巾", price_points=1, unit_cost_fen=100)
    session.commit()
    login(client, pw.villager.phone)
    page = client.get(f"/points/villages/{pw.village.id}/shop").text
    assert "还差 5 分" in page  # soap costs 5
    assert "已兑完" in page  # towels: none in stock
    assert 'aria-label="兑换肥皂"' not in page and 'aria-label="兑换毛巾"' not in page
    refused = client.post(
        f"/points/villages/{pw.village.id}/shop/redeem",
        data={"item_id": pw.soap.id, "quantity": 1, "csrf_token": csrf_token(client)},
    )
    assert refused.status_code == 409
    assert "现在无法办理" in refused.text and "积分不足" in refused.text
    assert "冲突" not in refused.text
