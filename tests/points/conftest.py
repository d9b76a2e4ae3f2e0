"""A village with points set up the Youxiqiao way: households, group leader then cadre approve."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from gongchuang.core import files, organisations
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.points import service, shop
from gongchuang.points.models import PointRecord, RuleCatalogue, ShopItem
from tests.support.principals import acting
from tests.support.world import World, make_person


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class PointsWorld:
    world: World
    village: Organisation
    catalogue: RuleCatalogue
    cadre: Person
    leader: Person
    villager: Person
    neighbour: Person
    shopkeeper: Person
    soap: ShopItem
    leader2: Person
    cadre2: Person

    def photo(self, session: Session, person: Person) -> int:
        stored = files.save_upload(session, acting(person), filename="p.png", data=png_bytes())
        return stored.id

    def report(
        self,
        session: Session,
        person: Person,
        rule_code: str = "GY01",
        *,
        day: date | None = None,
        evidence: bool = True,
    ) -> PointRecord:
        return service.submit_record(
            session,
            acting(person),
            self.village,
            service.RecordRequest(
                rule_code=rule_code,
                person_id=person.id,
                occurred_on=day or service.today_local(),
                evidence_file_id=self.photo(session, person) if evidence else None,
            ),
        )

    def approve(self, session: Session, record: PointRecord) -> PointRecord:
        """Both levels, by approvers who are neither the subject nor the reporter."""
        involved = {record.person_id, record.reported_by_person_id}
        for pool in ((self.leader, self.leader2), (self.cadre, self.cadre2)):
            approver = next(p for p in pool if p.id not in involved)
            service.decide(session, acting(approver), self.village, record, "approve")
        return record


def join(
    session: Session, village: Organisation, phone: str, name: str, roles: list[str]
) -> Person:
    person = make_person(session, phone, name)
    organisations.add_member(session, SYSTEM, village, phone=phone, roles=roles, check=False)
    return person


@pytest.fixture
def pw(session: Session, world: World) -> PointsWorld:
    village = world.village_a
    leader = join(session, village, "13700000010", "甲组长", ["group_leader"])
    neighbour = join(session, village, "13700000011", "甲邻居", ["member"])
    shopkeeper = join(session, village, "13700000012", "甲店主", ["shopkeeper"])
    leader2 = join(session, village, "13700000013", "甲二组长", ["group_leader"])
    cadre2 = join(session, village, "13700000014", "甲主任", ["cadre"])
    catalogue = service.create_catalogue(session, SYSTEM, village, template_code="youxiqiao")
    for name, members in (
        ("甲支书户", [world.cadre_a]),
        ("甲村民户", [world.villager_a]),
        ("甲组长户", [leader]),
        ("甲邻居户", [neighbour, shopkeeper]),
        ("甲干部户", [leader2, cadre2]),
    ):
        service.create_household(
            session, SYSTEM, village, name=name, member_phones=[p.phone for p in members]
        )
    shop.add_donation(session, SYSTEM, village, amount_fen=100_000, donor="乡贤")
    soap = shop.add_item(
        session, SYSTEM, village, name="肥皂", price_points=5, unit_cost_fen=300, stock=10
    )
    session.commit()
    return PointsWorld(
        world=world,
        village=village,
        catalogue=catalogue,
        cadre=world.cadre_a,
        leader=leader,
        villager=world.villager_a,
        neighbour=neighbour,
        shopkeeper=shopkeeper,
        soap=soap,
        leader2=leader2,
        cadre2=cadre2,
    )
