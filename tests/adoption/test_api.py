"""The adoption API end to end: a village puts a season online, people adopt and pay in the
sandbox, the notification is signed and checked, the harvest is shared and shipped; and every
bad input refused with a clear message in the reader's language, nothing changed."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.adoption.models import AdoptionOrder, Offering
from gongchuang.core import payments
from gongchuang.core.models import Payment, Region
from tests.conftest import api_token
from tests.support.world import World, make_person

MANAGE = ["adoption.manage"]
ADOPT = ["adoption.adopt"]


def season(client, world: World, *, total: int = 1000) -> tuple[int, int, dict[str, str]]:  # type: ignore[no-untyped-def]
    staff = api_token(client, world.cadre_a.phone, MANAGE)
    farm = client.post(
        f"/api/v1/adoption/organisations/{world.village_a.id}/farms",
        json={
            "name": "云稻米基地",
            "region_id": world.village_a_region.id,
            "service_region_ids": [world.county.id],
        },
        headers=staff,
    )
    assert farm.status_code == 201, farm.text
    field = client.post(
        f"/api/v1/adoption/farms/{farm.json()['id']}/fields",
        json={"name": "大丘田", "area_m2": 5000, "crop": "水稻"},
        headers=staff,
    ).json()
    offering = client.post(
        f"/api/v1/adoption/fields/{field['id']}/offerings",
        json={
            "title": "云稻米",
            "season": "2027 早稻",
            "price_fen": 600,
            "total_units": total,
            "max_units": 500,
            "guaranteed_g_per_unit": 500,
        },
        headers=staff,
    )
    assert offering.status_code == 201, offering.text
    assert offering.json()["status"] == "draft"
    oid = offering.json()["id"]
    # A draft is not public.
    assert client.get(f"/api/v1/adoption/offerings/{oid}").status_code == 404
    opened = client.post(
        f"/api/v1/adoption/offerings/{oid}/status", json={"status": "open"}, headers=staff
    )
    assert opened.json()["status"] == "open"
    return farm.json()["id"], oid, staff


def test_adopt_pay_harvest_ship_deliver(client, world: World, session: Session) -> None:  # type: ignore[no-untyped-def]
    farm_id, oid, staff = season(client, world)
    adopter = api_token(client, world.villager_a.phone, ADOPT)
    order = client.post(
        f"/api/v1/adoption/offerings/{oid}/orders", json={"units": 100}, headers=adopter
    )
    assert order.status_code == 201, order.text
    body = order.json()
    assert body["status"] == "pending" and body["amount_fen"] == 60_000
    assert body["checkout_href"].startswith("/payments/sandbox/")
    listed = client.get(f"/api/v1/adoption/offerings/{oid}").json()
    assert (listed["available_units"], listed["adopted_units"]) == (900, 0)

    out_trade_no = body["checkout_href"].rsplit("/", 1)[1]
    paid = client.post(f"/api/v1/payments/sandbox/{out_trade_no}/pay", headers=adopter)
    assert paid.status_code == 200, paid.text
    code = body["code"]
    mine = client.get(f"/api/v1/adoption/orders/{code}", headers=adopter).json()
    assert mine["status"] == "allocated" and mine["checkout_href"] is None
    steps = client.get(f"/api/v1/adoption/orders/{code}/transitions", headers=adopter).json()
    assert [s["to_status"] for s in steps] == ["pending", "paid", "allocated"]
    progress = client.get(f"/api/v1/adoption/offerings/{oid}/progress").json()
    assert progress["adopted_m2"] == 100 and progress["adopters"] == 1

    # Someone else's order is not found, whoever asks.
    other = api_token(client, world.outsider.phone, ADOPT)
    assert client.get(f"/api/v1/adoption/orders/{code}", headers=other).status_code == 404

    address = client.put(
        f"/api/v1/adoption/orders/{code}/address",
        json={
            "recipient_name": "甲村民",
            "recipient_phone": "13912345678",
            "region_id": world.village_a_region.id,
            "address_line": "村口1号",
            "consent": True,
        },
        headers=adopter,
    )
    assert address.status_code == 204, address.text

    diary = client.post(
        f"/api/v1/adoption/offerings/{oid}/diary",
        json={"body": "今天插秧", "video_url": "https://v.example.cn/1"},
        headers=staff,
    )
    assert diary.status_code == 201, diary.text
    assert client.get(f"/api/v1/adoption/offerings/{oid}/diary").json()[0]["body"] == "今天插秧"

    client.post(
        f"/api/v1/adoption/offerings/{oid}/status", json={"status": "closed"}, headers=staff
    )
    harvest = client.post(
        f"/api/v1/adoption/offerings/{oid}/harvest", json={"total_kg": "30.5"}, headers=staff
    )
    assert harvest.status_code == 201, harvest.text
    share = harvest.json()["shares"][0]
    assert share == {
        "order_code": code,
        "share_g": 30_500,
        "guaranteed_g": 50_000,
        "delivered_g": 50_000,
        "made_up_g": 19_500,
        "credit_fen": 0,
    }
    sheet = client.get(f"/api/v1/adoption/offerings/{oid}/courier-batch.xlsx", headers=staff)
    assert sheet.status_code == 200
    rows = list(load_workbook(BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == code and rows[1][2] == "13912345678" and rows[1][5] == 50

    shipped = client.post(
        f"/api/v1/adoption/orders/{code}/shipment",
        json={"courier": "顺丰", "tracking_no": "SF1234567890"},
        headers=staff,
    )
    assert shipped.json()["status"] == "shipped"
    delivered = client.post(
        f"/api/v1/adoption/orders/{code}/delivery-confirmation", headers=adopter
    )
    assert delivered.json()["status"] == "delivered"
    complaint = client.post(
        f"/api/v1/adoption/orders/{code}/complaints", json={"body": "米里有沙"}, headers=adopter
    )
    assert complaint.status_code == 201
    resolved = client.post(
        f"/api/v1/adoption/complaints/{complaint.json()['id']}/resolution",
        json={"outcome": "resolved", "resolution": "退款十元", "refund_fen": 1000},
        headers=staff,
    )
    assert resolved.json()["refund_fen"] == 1000
    assert (
        client.get(f"/api/v1/adoption/orders/{code}", headers=adopter).json()["refunded_fen"]
        == 1000
    )

    ledger = client.get(f"/api/v1/adoption/farms/{farm_id}/ledger").json()
    assert (ledger["income_fen"], ledger["refunds_fen"], ledger["balance_fen"]) == (
        60_000,
        1000,
        59_000,
    )
    assert sum(e["amount_fen"] for e in ledger["entries"]) == ledger["balance_fen"]


def problem(response) -> str:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["detail"])


def test_bad_input_is_refused_clearly_and_changes_nothing(
    client, world: World, session: Session
) -> None:  # type: ignore[no-untyped-def]
    farm_id, oid, staff = season(client, world, total=100)
    adopter = api_token(client, world.villager_a.phone, ADOPT)
    url = f"/api/v1/adoption/offerings/{oid}/orders"

    too_many = client.post(url, json={"units": 101}, headers=adopter)
    assert too_many.status_code == 409
    assert "100" in problem(too_many)
    english = client.post(url, json={"units": 101}, headers={**adopter, "Accept-Language": "en"})
    assert "left" in problem(english)
    assert client.post(url, json={"units": 0}, headers=adopter).status_code == 422
    assert client.post(url, json={"units": "many"}, headers=adopter).status_code == 422
    assert (
        client.post(url, json={"units": 5, "via": "<script>"}, headers=adopter).status_code == 422
    )
    offering = session.get(Offering, oid)
    assert offering is not None
    session.refresh(offering)
    assert (offering.reserved_units, offering.allocated_units) == (0, 0)
    assert session.scalar(select(AdoptionOrder.id).where(AdoptionOrder.offering_id == oid)) is None

    order = client.post(url, json={"units": 10}, headers=adopter).json()
    payment = session.scalar(select(Payment).where(Payment.reference == order["code"]))
    assert payment is not None
    headers, body = payments.sandbox_notification(session, payment)
    notify = "/api/v1/payments/notifications/sandbox"
    forged = client.post(
        notify,
        content=body.replace(b"e", b"f", 1),
        headers={**headers, "content-type": "application/json"},
    )
    assert forged.status_code in (400, 401)
    wrong = payments.sandbox_notification(session, payment, amount_fen=1)
    assert client.post(notify, content=wrong[1], headers=wrong[0]).status_code == 409
    session.refresh(offering)
    assert (offering.reserved_units, offering.allocated_units) == (10, 0)
    # (A refusal rolls back the test's one transaction, sandbox keys made in it included:
    # the genuine notification is signed afresh.)
    headers, body = payments.sandbox_notification(session, payment)
    first = client.post(notify, content=body, headers=headers)
    assert first.status_code == 204, first.text
    again = client.post(notify, content=body, headers=headers)
    assert again.status_code == 204
    session.refresh(offering)
    assert (offering.reserved_units, offering.allocated_units) == (0, 10)

    outside = session.scalar(select(Region).where(Region.code == "431321101201"))
    assert outside is not None
    refused = client.put(
        f"/api/v1/adoption/orders/{order['code']}/address",
        json={
            "recipient_name": "甲",
            "recipient_phone": "13912345678",
            "region_id": outside.id,
            "address_line": "1号",
            "consent": True,
        },
        headers=adopter,
    )
    assert refused.status_code == 422
    assert outside.name in problem(refused)
    no_consent = client.put(
        f"/api/v1/adoption/orders/{order['code']}/address",
        json={
            "recipient_name": "甲",
            "recipient_phone": "13912345678",
            "region_id": world.village_a_region.id,
            "address_line": "1号",
            "consent": False,
        },
        headers=adopter,
    )
    assert no_consent.status_code == 422

    too_much = client.post(
        f"/api/v1/adoption/orders/{order['code']}/refunds",
        json={"amount_fen": 6001, "reason": "多退"},
        headers=staff,
    )
    assert too_much.status_code in (409, 422)
    assert (
        client.get(f"/api/v1/adoption/orders/{order['code']}", headers=adopter).json()[
            "refunded_fen"
        ]
        == 0
    )
    overspend = client.post(
        f"/api/v1/adoption/farms/{farm_id}/ledger",
        json={"kind": "distribution", "amount_fen": 6001, "memo": "分红"},
        headers=staff,
    )
    assert overspend.status_code == 422


@pytest.mark.parametrize("who", ["anonymous", "other village", "villager"])
def test_only_the_farm_manages_it(client, world: World, who: str) -> None:  # type: ignore[no-untyped-def]
    farm_id, oid, _ = season(client, world)
    headers = {
        "anonymous": {},
        "other village": api_token(client, world.cadre_b.phone, MANAGE),
        "villager": api_token(client, world.villager_a.phone, MANAGE),
    }[who]
    attempts = [
        client.post(
            f"/api/v1/adoption/offerings/{oid}/status", json={"status": "closed"}, headers=headers
        ),
        client.post(f"/api/v1/adoption/offerings/{oid}/diary", json={"body": "x"}, headers=headers),
        client.get(f"/api/v1/adoption/offerings/{oid}/orders", headers=headers),
        client.post(
            f"/api/v1/adoption/farms/{farm_id}/ledger",
            json={"kind": "cost", "amount_fen": 1, "memo": "x"},
            headers=headers,
        ),
    ]
    expected = 401 if who == "anonymous" else 404
    assert [a.status_code for a in attempts] == [expected] * 4


def test_share_links_attribute_adoptions(client, world: World, session: Session) -> None:  # type: ignore[no-untyped-def]
    _, oid, _ = season(client, world)
    sharer = api_token(client, world.villager_a.phone, ADOPT)
    link = client.post(f"/api/v1/adoption/offerings/{oid}/share-link", headers=sharer).json()
    assert link["url"].endswith(f"/adoption/s/{link['code']}")
    again = client.post(f"/api/v1/adoption/offerings/{oid}/share-link", headers=sharer).json()
    assert again["code"] == link["code"]
    friend = make_person(session, "13912340000", "朋友")
    session.flush()
    buyer = api_token(client, friend.phone, ADOPT)
    order = client.post(
        f"/api/v1/adoption/offerings/{oid}/orders",
        json={"units": 30, "via": link["code"]},
        headers=buyer,
    ).json()
    client.post(
        f"/api/v1/payments/sandbox/{order['checkout_href'].rsplit('/', 1)[1]}/pay", headers=buyer
    )
    counted = client.post(f"/api/v1/adoption/offerings/{oid}/share-link", headers=sharer).json()
    assert (counted["adoptions"], counted["units"]) == (1, 30)
