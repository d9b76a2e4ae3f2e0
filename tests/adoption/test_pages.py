"""The adoption pages through HTTP: what each audience sees, forms read into the API's command
models (yuan typed, fen kept), refusals said beside the form with nothing changed, and who may
reach what (anonymous, another organisation, the farm's staff)."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.adoption import service
from gongchuang.adoption.models import AdoptionOrder, DiaryPost, Offering, OrderStatus
from gongchuang.adoption.schemas import AddressIn, OfferingIn
from gongchuang.core.models import Payment
from tests.adoption.conftest import Farmland, adopt_and_pay
from tests.conftest import csrf_token, login
from tests.support.openapi import ValidatingClient
from tests.support.principals import acting
from tests.support.world import World


def orders(session: Session) -> int:
    return session.scalar(select(func.count(AdoptionOrder.id))) or 0


def post(client: ValidatingClient, url: str, data: dict[str, object], **kw: object):  # type: ignore[no-untyped-def]
    return client.post(
        url,
        data={**data, "csrf_token": csrf_token(client)},
        follow_redirects=False,
        **kw,  # type: ignore[arg-type]
    )


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 160, 60)).save(out, "JPEG")
    return out.getvalue()


def test_anyone_sees_the_seasons_with_price_progress_and_a_sign_in_link(
    client: ValidatingClient, farmland: Farmland
) -> None:
    listing = client.get("/adoption")
    assert listing.status_code == 200
    assert re.search(r'<p class="big">¥3\.00 / (m²|平方米)</p>', listing.text)
    assert f'<progress id="p-{farmland.offering.id}" max="1000" value="0"' in listing.text

    page = client.get(f"/adoption/offerings/{farmland.offering.id}")
    assert page.status_code == 200
    assert f'href="/login?next=/adoption/offerings/{farmland.offering.id}"' in page.text
    assert 'action="/adoption/offerings/' not in page.text
    assert f'sse-connect="/adoption/offerings/{farmland.offering.id}/stream"' in page.text
    assert client.get(f"/adoption/offerings/{farmland.offering.id}/progress").status_code == 200
    assert client.get(f"/adoption/farms/{farmland.farm.id}/ledger").status_code == 200


def test_a_draft_season_is_not_found_by_anyone_but_its_farm(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland
) -> None:
    draft = service.create_offering(
        session,
        acting(world.cadre_a),
        farmland.field.id,
        OfferingIn(title="草稿", season="2028", price_fen=100, total_units=10),
    )
    session.commit()  # a refused request rolls back to here
    for url in (
        f"/adoption/offerings/{draft.id}",
        f"/adoption/offerings/{draft.id}/progress",
        f"/adoption/offerings/{draft.id}/stream",
        f"/adoption/offerings/{draft.id}/figures",
    ):
        assert client.get(url).status_code == 404, url
    login(client, world.cadre_a.phone)
    manage = client.get(f"/adoption/manage/offerings/{draft.id}")
    assert manage.status_code == 200, manage.text[-3000:]


def test_adopting_through_the_form_reserves_and_leads_to_the_cashier(
    client: ValidatingClient, session: Session, farmland: Farmland
) -> None:
    adopter = farmland.adopters[0]
    login(client, adopter.phone)
    answer = post(
        client,
        f"/adoption/offerings/{farmland.offering.id}/adopt",
        {"units": "20", "delivery_method": "courier"},
    )
    assert answer.status_code == 303
    code = answer.headers["location"].rsplit("/", 1)[1]
    order = session.scalar(select(AdoptionOrder).where(AdoptionOrder.code == code))
    assert order is not None and order.units == 20 and order.amount_fen == 6000

    page = client.get(f"/adoption/orders/{code}")
    assert 'data-status="pending">待支付<' in page.text
    assert "¥60.00" in page.text
    pay = client.get(f"/adoption/orders/{code}/pay", follow_redirects=False)
    payment = session.get(Payment, order.payment_id)
    assert payment is not None
    assert pay.headers["location"].endswith(f"/payments/sandbox/{payment.out_trade_no}")

    assert post(client, f"/adoption/orders/{code}/cancel", {}).status_code == 303
    session.refresh(order)
    assert order.status == OrderStatus.cancelled


@pytest.mark.parametrize(
    ("units", "field"),
    [("0", "units"), ("501", None), ("twenty", "units"), ("", "units")],
)
def test_a_refused_adoption_is_said_on_its_page_and_holds_nothing(
    client: ValidatingClient, session: Session, farmland: Farmland, units: str, field: str | None
) -> None:
    login(client, farmland.adopters[0].phone)
    url = f"/adoption/offerings/{farmland.offering.id}"
    before = orders(session)
    answer = post(
        client,
        f"{url}/adopt",
        {"units": units, "delivery_method": "courier"},
        headers={"referer": f"http://testserver{url}"},
    )
    assert answer.status_code in (409, 422)
    assert 'id="form-problem-banner"' in answer.text  # the season's page, the reason on top
    if field:
        assert f'"field": "{field}"' in answer.text
    assert orders(session) == before
    session.refresh(farmland.offering)
    assert farmland.offering.reserved_units == 0


def test_anonymous_adopting_is_sent_to_log_in_and_nothing_is_held(
    client: ValidatingClient, session: Session, farmland: Farmland
) -> None:
    answer = post(client, f"/adoption/offerings/{farmland.offering.id}/adopt", {"units": "5"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert orders(session) == 0


def test_an_order_is_its_adopters_only(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland
) -> None:
    order = adopt_and_pay(session, farmland.adopters[0], farmland.offering, 10)
    session.commit()
    for phone in (farmland.adopters[1].phone, world.cadre_a.phone):
        login(client, phone)
        assert client.get(f"/adoption/orders/{order.code}").status_code == 404
        assert post(client, f"/adoption/orders/{order.code}/cancel", {}).status_code == 404
    login(client, farmland.adopters[0].phone)
    page = client.get(f"/adoption/orders/{order.code}")
    assert page.status_code == 200
    assert 'data-status="allocated">' in page.text


def test_the_address_needs_consent_and_is_shown_masked(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland
) -> None:
    adopter = farmland.adopters[0]
    order = adopt_and_pay(session, adopter, farmland.offering, 10)
    session.commit()
    login(client, adopter.phone)
    url = f"/adoption/orders/{order.code}"
    address = {
        "recipient_name": "李四",
        "recipient_phone": "13912345678",
        "region_id": str(world.county.id),
        "address_line": "幸福路1号",
    }
    refused = post(
        client, f"{url}/address", address, headers={"referer": f"http://testserver{url}"}
    )
    assert refused.status_code == 422 and '"field": "consent"' in refused.text
    session.refresh(order)
    assert order.address_region_id is None

    assert post(client, f"{url}/address", {**address, "consent": "yes"}).status_code == 303
    page = client.get(url)
    assert "139****5678" in page.text and "13912345678" not in page.text

    login(client, world.cadre_a.phone)
    manage = client.get(f"/adoption/manage/offerings/{farmland.offering.id}")
    assert "139****5678" in manage.text and "13912345678" not in manage.text
    assert "李四" not in manage.text

    login(client, adopter.phone)
    assert post(client, f"{url}/address/forget", {}).status_code == 303
    session.refresh(order)
    assert order.recipient_phone == ""


def test_a_season_is_priced_in_yuan_and_a_bad_amount_changes_nothing(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland
) -> None:
    login(client, world.cadre_a.phone)
    url = f"/adoption/manage/farms/{farmland.farm.id}"
    season = {
        "field_id": str(farmland.field.id),
        "title": "云稻米",
        "season": "2027 晚稻",
        "sale_unit": "m2",
        "total_units": "500",
        "max_units": "100",
    }
    count = session.scalar(select(func.count(Offering.id)))
    for bad in ("6.555", "六元", ""):
        refused = post(
            client,
            f"{url}/offerings",
            {**season, "price_yuan": bad},
            headers={"referer": f"http://testserver{url}"},
        )
        assert refused.status_code == 422, bad
        assert '"field": "price_yuan"' in refused.text
    assert session.scalar(select(func.count(Offering.id))) == count

    made = post(client, f"{url}/offerings", {**season, "price_yuan": "6.5"})
    assert made.status_code == 303
    offering_id = int(made.headers["location"].rsplit("/", 1)[1])
    created = session.get(Offering, offering_id)
    assert created is not None and created.price_fen == 650


@pytest.mark.parametrize("who", ["anonymous", "other_organisation", "member", "adopter"])
def test_only_the_farms_staff_manage_it(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland, who: str
) -> None:
    order = adopt_and_pay(session, farmland.adopters[0], farmland.offering, 10)
    session.commit()
    phone = {
        "other_organisation": world.cadre_b.phone,
        "member": world.villager_a.phone,
        "adopter": farmland.adopters[0].phone,
    }.get(who)
    if phone:
        login(client, phone)
    offering_id = farmland.offering.id
    expected = {303} if who == "anonymous" else {404}
    gets = [
        f"/adoption/manage/farms/{farmland.farm.id}",
        f"/adoption/manage/offerings/{offering_id}",
        f"/adoption/manage/offerings/{offering_id}/courier-batch.xlsx",
    ]
    for url in gets:
        assert client.get(url, follow_redirects=False).status_code in expected, url
    posts = {
        f"/adoption/manage/offerings/{offering_id}/status": {"status": "closed"},
        f"/adoption/manage/orders/{order.code}/refund": {"amount_yuan": "1", "reason": "x"},
        f"/adoption/manage/farms/{farmland.farm.id}/ledger": {
            "kind": "cost",
            "amount_yuan": "1",
            "memo": "种子",
        },
        f"/adoption/manage/farms/{farmland.farm.id}/fields": {
            "name": "田",
            "area_m2": "10",
            "crop": "稻",
        },
    }
    for url, data in posts.items():
        assert post(client, url, data).status_code in expected, url
    session.refresh(farmland.offering)
    assert farmland.offering.status == "open"
    assert service.refunded_fen(session, order) == 0
    assert service.balance(session, farmland.farm.id) == order.amount_fen
    if who != "anonymous":
        manage = client.get("/adoption/manage")
        assert manage.status_code == 200
        assert farmland.farm.name not in manage.text


def test_the_farm_posts_a_diary_photo_everyone_sees_and_ships_the_harvest(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland
) -> None:
    adopter = farmland.adopters[0]
    order = adopt_and_pay(session, adopter, farmland.offering, 10)
    service.set_address(
        session,
        acting(adopter),
        order.code,
        AddressIn(
            recipient_name="李四",
            recipient_phone="13912345678",
            region_id=world.county.id,
            address_line="幸福路1号",
            consent=True,
        ),
    )
    session.commit()
    login(client, world.cadre_a.phone)
    offering_id = farmland.offering.id
    answer = client.post(
        f"/adoption/manage/offerings/{offering_id}/diary",
        data={"body": "秧苗返青了", "csrf_token": csrf_token(client)},
        files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert answer.status_code == 303
    entry = session.scalar(select(DiaryPost).where(DiaryPost.offering_id == offering_id))
    assert entry is not None and len(entry.photo_file_ids) == 1

    assert post(client, f"/adoption/manage/offerings/{offering_id}/status", {"status": "closed"})
    harvest = post(
        client,
        f"/adoption/manage/offerings/{offering_id}/harvest",
        {"total_kg": "400", "remedy": "make_up"},
    )
    assert harvest.status_code == 303
    sheet = client.get(f"/adoption/manage/offerings/{offering_id}/courier-batch.xlsx")
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == order.code and rows[1][2] == "13912345678"

    shipped = post(
        client,
        f"/adoption/manage/orders/{order.code}/ship",
        {"courier": "邮政", "tracking_no": "9876543210"},
    )
    assert shipped.status_code == 303

    client.cookies.clear()
    photo = client.get(f"/adoption/diary/{entry.id}/photos/0")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert client.get(f"/adoption/diary/{entry.id}/photos/1").status_code == 404
    season = client.get(f"/adoption/offerings/{offering_id}")
    assert "秧苗返青了" in season.text
    assert f'src="/adoption/diary/{entry.id}/photos/0" loading="lazy"' in season.text

    login(client, adopter.phone)
    page = client.get(f"/adoption/orders/{order.code}")
    assert "邮政 9876543210" in page.text
    assert re.search(r'data-testid="harvest-share">\d', page.text)
    assert post(client, f"/adoption/orders/{order.code}/delivered", {}).status_code == 303
    session.refresh(order)
    assert order.status == OrderStatus.delivered
    complained = client.post(
        f"/adoption/orders/{order.code}/complaints",
        data={"body": "米有点潮", "csrf_token": csrf_token(client)},
        files=[("photos", ("b.jpg", jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert complained.status_code == 303
    mine = client.get(f"/adoption/orders/{order.code}").text
    found = re.search(r'src="(/adoption/complaints/\d+/photos/0)"', mine)
    assert "米有点潮" in mine and found
    photo_url = found.group(1)
    assert client.get(photo_url).headers["content-type"] == "image/jpeg"
    # The farm answering it sees the photo; another farm, another adopter and a guest do not.
    login(client, world.cadre_a.phone)
    assert photo_url in client.get(f"/adoption/manage/offerings/{offering_id}").text
    assert client.get(photo_url).status_code == 200
    for phone in (world.cadre_b.phone, farmland.adopters[1].phone):
        login(client, phone)
        assert client.get(photo_url).status_code == 404
    client.cookies.clear()
    assert client.get(photo_url, follow_redirects=False).status_code == 303


def test_share_link_shows_a_qr_and_counts_who_came_through_it(
    client: ValidatingClient, session: Session, farmland: Farmland
) -> None:
    sharer, friend = farmland.adopters[0], farmland.adopters[1]
    login(client, sharer.phone)
    offering_id = farmland.offering.id
    assert post(client, f"/adoption/offerings/{offering_id}/share-link", {}).status_code == 303
    season = client.get(f"/adoption/offerings/{offering_id}")
    found = re.search(r"/adoption/s/([A-Za-z0-9]+)", season.text)
    assert found and "<svg" in season.text
    code = found.group(1)

    client.cookies.clear()
    landing = client.get(f"/adoption/s/{code}", follow_redirects=False)
    assert landing.headers["location"] == f"/adoption/offerings/{offering_id}?via={code}"
    assert client.get("/adoption/s/NOSUCHCODE").status_code == 404

    login(client, friend.phone)
    page = client.get(f"/adoption/offerings/{offering_id}?via={code}")
    assert f'name="via" value="{code}"' in page.text
    answer = post(client, f"/adoption/offerings/{offering_id}/adopt", {"units": "7", "via": code})
    order = session.scalar(
        select(AdoptionOrder).where(AdoptionOrder.code == answer.headers["location"][-12:])
    )
    assert order is not None and order.share_link_id is not None


def test_the_public_ledger_adds_up_to_the_fen(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland
) -> None:
    adopt_and_pay(session, farmland.adopters[0], farmland.offering, 7)
    session.commit()
    login(client, world.cadre_a.phone)
    url = f"/adoption/manage/farms/{farmland.farm.id}"
    too_much = post(
        client,
        f"{url}/ledger",
        {"kind": "cost", "amount_yuan": "100", "memo": "种子"},
        headers={"referer": f"http://testserver{url}"},
    )
    assert too_much.status_code == 422
    assert (
        post(
            client, f"{url}/ledger", {"kind": "cost", "amount_yuan": "1.05", "memo": "种子"}
        ).status_code
        == 303
    )
    client.cookies.clear()
    ledger = client.get(f"/adoption/farms/{farmland.farm.id}/ledger")
    assert "¥21.00" in ledger.text and "¥1.05" in ledger.text and "¥19.95" in ledger.text


def test_the_pages_read_in_english_too(
    client: ValidatingClient, session: Session, world: World, farmland: Farmland
) -> None:
    order = adopt_and_pay(session, farmland.adopters[0], farmland.offering, 10)
    session.commit()
    login(client, farmland.adopters[0].phone)
    post(client, "/prefs/language", {"locale": "en", "next": "/adoption"})
    season = client.get(f"/adoption/offerings/{farmland.offering.id}").text
    assert "Adopt and pay" in season and "认养并付款" not in season
    assert "The farm's diary" in season
    mine = client.get(f"/adoption/orders/{order.code}").text
    assert "Shipping address" in mine and "收货地址" not in mine
    assert client.get(f"/adoption/farms/{farmland.farm.id}/ledger").status_code == 200
    login(client, world.cadre_a.phone)
    post(client, "/prefs/language", {"locale": "en", "next": "/adoption"})
    manage = client.get(f"/adoption/manage/offerings/{farmland.offering.id}").text
    assert "Post to the diary" in manage and "发布日记" not in manage
