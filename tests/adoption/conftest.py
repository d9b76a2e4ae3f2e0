"""A village farm with a paddy field and a season open for adoption by the square metre, and
adopters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from gongchuang.adoption import service
from gongchuang.adoption.models import AdoptionOrder, Farm, Field, Offering
from gongchuang.adoption.schemas import (
    AdoptIn,
    FarmIn,
    FieldIn,
    OfferingIn,
    OfferingStatusIn,
)
from gongchuang.core import payments
from gongchuang.core.models import Payment, Person
from tests.support.principals import acting
from tests.support.world import World, make_person


@dataclass
class Farmland:
    farm: Farm
    field: Field
    offering: Offering
    adopters: list[Person]


def open_season(
    session: Session, world: World, *, total: int = 1000, guaranteed: int = 500, **terms: object
) -> tuple[Farm, Field, Offering]:
    cadre = acting(world.cadre_a)
    farm = service.create_farm(
        session,
        cadre,
        world.village_a.id,
        FarmIn(
            name="何家岩云稻米基地",
            region_id=world.village_a_region.id,
            service_region_ids=[world.county.id],
        ),
    )
    field = service.add_field(
        session, cadre, farm.id, FieldIn(name="大丘田", area_m2=max(total, 1000) * 2, crop="水稻")
    )
    offering = service.create_offering(
        session,
        cadre,
        field.id,
        OfferingIn(
            title="云稻米",
            season="2027 早稻",
            price_fen=300,
            total_units=total,
            max_units=terms.pop("max_units", 500),  # type: ignore[arg-type]
            guaranteed_g_per_unit=guaranteed,
            **terms,  # type: ignore[arg-type]
        ),
    )
    service.set_offering_status(session, cadre, offering.id, OfferingStatusIn(status="open"))
    return farm, field, offering


@pytest.fixture
def farmland(session: Session, world: World) -> Farmland:
    farm, field, offering = open_season(session, world)
    adopters = [make_person(session, f"1390000{i:04d}", f"认养人{i}") for i in range(3)]
    session.flush()
    return Farmland(farm, field, offering, adopters)


def adopt_and_pay(
    session: Session, person: Person, offering: Offering, units: int, **kw: object
) -> AdoptionOrder:
    order = service.adopt(session, acting(person), offering.id, AdoptIn(units=units, **kw))  # type: ignore[arg-type]
    payment = session.get(Payment, order.payment_id)
    assert payment is not None
    payments.sandbox_pay(session, payment.out_trade_no, payer_id=person.id)
    session.refresh(order)
    return order
