"""Demo data for cloud adoption: the first demo village's paddy put online like 何家岩云稻米.
Last season's crop is harvested, shared out and on its way (one of the demo villager's orders
is shipped, for her to confirm); this season is open, with most of the field adopted through
share links, diary posts from the field, and the village's ledger of income, costs and its
distribution to the collective."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.adoption import service
from gongchuang.adoption.models import AdoptionOrder, Offering
from gongchuang.adoption.schemas import (
    AddressIn,
    AdoptIn,
    DiaryPostIn,
    FarmIn,
    FieldIn,
    HarvestIn,
    LedgerEntryIn,
    OfferingIn,
    OfferingStatusIn,
    ShipmentIn,
)
from gongchuang.core import files, payments
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Organisation, Payment, Person, Region
from gongchuang.core.permissions import Principal

DIARY = [
    ("育秧：稻种已下田，秧苗长到两指高。", (120, 170, 90)),
    ("插秧：今天全村二十多人一起插秧，每一块认养田都插了名牌。", (90, 160, 70)),
    ("分蘖：秧苗开始分蘖，田里放了鸭子除虫，不打农药。", (70, 150, 60)),
]


def _photo(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 400), (170, 210, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 200, 640, 400), fill=colour)
    for x in range(20, 640, 40):
        draw.line((x, 400, x + 10, 230), fill=(40, 110, 40), width=4)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


def _as(person: Person) -> Principal:
    return Principal(person_id=person.id, name=person.name)


def _adopt_and_pay(
    session: Session, person: Person, offering: Offering, units: int, **terms: object
) -> AdoptionOrder:
    order = service.adopt(session, _as(person), offering.id, AdoptIn(units=units, **terms))
    payment = session.get(Payment, order.payment_id)
    if payment is None:
        raise LookupError("the demo order's payment")
    payments.sandbox_pay(session, payment.out_trade_no, payer_id=person.id)
    return order


def load_demo(
    session: Session,
    rng: random.Random,
    *,
    village: Organisation,
    cadre: Person,
    villager: Person,
    adopters: list[Person],
) -> str:
    staff = _as(cadre)
    province = session.scalar(select(Region).where(Region.code == "430000"))
    if province is None:
        raise LookupError("the demo province")
    farm = service.create_farm(
        session,
        staff,
        village.id,
        FarmIn(
            name="何家岩云稻米基地",
            description="村集体和合作社把一百亩稻田放到网上，认养人按平方米认养，"
            "收获后按面积分到大米，不足保底产量由村里补足。",
            region_id=village.region_id,
            lat=27.7326,
            lng=111.3070,
            service_region_ids=[province.id],
        ),
    )
    field = service.add_field(
        session,
        staff,
        farm.id,
        FieldIn(name="何家岩大丘田", area_m2=66_667, crop="水稻", description="一百亩连片稻田。"),
    )
    terms = {"title": "何家岩云稻米", "max_units": 1000, "reservation_minutes": 15}

    # Last season: adopted, harvested and shared out, some of it delivered.
    past = service.create_offering(
        session,
        staff,
        field.id,
        OfferingIn(
            season="2026 晚稻",
            price_fen=500,
            total_units=20_000,
            guaranteed_g_per_unit=400,
            **terms,
        ),
    )
    service.set_offering_status(session, staff, past.id, OfferingStatusIn(status="open"))
    address = {
        "recipient_phone": villager.phone,
        "region_id": village.region_id,
        "address_line": "示范村村委会旁",
        "consent": True,
    }
    hers = _adopt_and_pay(session, villager, past, 50)
    service.set_address(
        session,
        _as(villager),
        hers.code,
        AddressIn(recipient_name=villager.name, **address),
    )
    past_orders = [hers]
    for person in adopters[:12]:
        order = _adopt_and_pay(session, person, past, rng.choice([20, 50, 100, 200]))
        service.set_address(
            session,
            _as(person),
            order.code,
            AddressIn(
                recipient_name=person.name,
                recipient_phone=person.phone,
                region_id=village.region_id,
                address_line=f"{rng.randint(1, 80)}号",
                consent=True,
            ),
        )
        past_orders.append(order)
    service.set_offering_status(session, staff, past.id, OfferingStatusIn(status="closed"))
    adopted = sum(o.units for o in past_orders)
    # 0.45 kg a square metre: above the 0.4 kg guaranteed.
    service.record_harvest(
        session,
        staff,
        past.id,
        HarvestIn(total_kg=Decimal(adopted) * Decimal("0.45"), note="晚稻亩产约300公斤。"),
    )
    for index, order in enumerate(past_orders):
        service.ship(
            session,
            staff,
            order.code,
            ShipmentIn(courier="中国邮政", tracking_no=f"YZ{9800000000 + index}"),
        )
        if order is not hers and index % 2:
            service.confirm_delivery(session, _as(adopters[index - 1]), order.code)
    service.record_entry(
        session,
        staff,
        farm.id,
        LedgerEntryIn(
            kind="cost", amount_fen=adopted * 120, memo="种子、人工和包装", offering_id=past.id
        ),
    )
    service.record_entry(
        session,
        staff,
        farm.id,
        LedgerEntryIn(
            kind="distribution",
            amount_fen=adopted * 200,
            memo="晚稻认养收入分配给村集体",
            offering_id=past.id,
        ),
    )

    # This season: open, most of it adopted in its first day and a half, much through sharing.
    current = service.create_offering(
        session,
        staff,
        field.id,
        OfferingIn(
            season="2027 早稻",
            price_fen=600,
            total_units=66_000,
            guaranteed_g_per_unit=500,
            **terms,
        ),
    )
    service.set_offering_status(session, staff, current.id, OfferingStatusIn(status="open"))
    first = adopters[0]
    _adopt_and_pay(session, first, current, 1000)
    link = service.share_link(session, _as(first), current.id)
    for index, person in enumerate(adopters[1:]):
        _adopt_and_pay(
            session,
            person,
            current,
            rng.choice([100, 200, 300, 500, 800, 1000]),
            delivery_method="pickup" if index % 4 == 0 else "courier",
            via=link.code if index % 2 == 0 else None,
        )
    photos = []
    for body, colour in DIARY:
        stored = files.save_upload(session, staff, filename="field.jpg", data=_photo(colour))
        photos.append(stored.id)
        service.post(session, staff, current.id, DiaryPostIn(body=body, photo_file_ids=[stored.id]))
    # The first adoption came 30 hours ago, as in the report.
    session.execute(
        update(Offering)
        .where(Offering.id == current.id)
        .values(first_adopted_at=utcnow() - timedelta(hours=30))
    )
    session.refresh(current)
    return (
        f"adoption: farm {farm.name}, {len(past_orders)} harvested adoptions, "
        f"{current.allocated_units} m² adopted this season"
    )
