"""A small world built with the real service functions: two villages in one county, a county
department, people with and without roles."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy.orm import Session

from gongchuang.core import organisations, people, regions
from gongchuang.core.models import Organisation, OrganisationKind, Person, Region
from gongchuang.core.passwords import hash_password
from gongchuang.core.permissions import SYSTEM

PASSWORD = "correct horse 2026"


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


REGION_ROWS = [
    ("430000", "湖南省", None),
    ("431300", "娄底市", "430000"),
    ("431322", "新化县", "431300"),
    ("431321", "双峰县", "431300"),
    ("431322101000", "测试示范镇", "431322"),
    ("431322101201", "甲示范村", "431322101000"),
    ("431322101202", "乙示范村", "431322101000"),
    ("431321101000", "邻县示范镇", "431321"),
    ("431321101201", "丙示范村", "431321101000"),
]


@dataclass
class World:
    county: Region
    village_a_region: Region
    village_b_region: Region
    village_a: Organisation
    village_b: Organisation
    village_c: Organisation  # in the neighbouring county
    county_department: Organisation
    admin: Person  # platform administrator
    cadre_a: Person  # admin + cadre of village A
    villager_a: Person  # plain member of village A
    cadre_b: Person  # admin + cadre of village B
    county_staff: Person  # department staff of the county
    outsider: Person  # registered, no memberships


def make_person(session: Session, phone: str, name: str, *, admin: bool = False) -> Person:
    person = people.register_person(
        session, SYSTEM, name=name, phone=phone, is_platform_admin=admin
    )
    person.password_hash = password_hash()
    return person


def build_world(session: Session) -> World:
    rows = [
        regions.RegionRow(i + 2, code, name, "", parent, "")
        for i, (code, name, parent) in enumerate(REGION_ROWS)
    ]
    regions.import_rows(session, SYSTEM, rows)
    get = lambda code: regions.get_region(session, code)  # noqa: E731
    county = get("431322")

    def org(name: str, kind: OrganisationKind, region: Region) -> Organisation:
        return organisations.create_organisation(
            session, SYSTEM, name=name, kind=kind, region=region
        )

    village_a = org("甲示范村村委会", OrganisationKind.village_committee, get("431322101201"))
    village_b = org("乙示范村村委会", OrganisationKind.village_committee, get("431322101202"))
    village_c = org("丙示范村村委会", OrganisationKind.village_committee, get("431321101201"))
    department = org("新化县农业农村局", OrganisationKind.government_department, county)

    world = World(
        county=county,
        village_a_region=get("431322101201"),
        village_b_region=get("431322101202"),
        village_a=village_a,
        village_b=village_b,
        village_c=village_c,
        county_department=department,
        admin=make_person(session, "13700000000", "管理员", admin=True),
        cadre_a=make_person(session, "13700000001", "甲支书"),
        villager_a=make_person(session, "13700000002", "甲村民"),
        cadre_b=make_person(session, "13700000003", "乙支书"),
        county_staff=make_person(session, "13700000004", "县局科员"),
        outsider=make_person(session, "13700000005", "路人"),
    )

    def join(o: Organisation, p: Person, roles: list[str]) -> None:
        organisations.add_member(session, SYSTEM, o, phone=p.phone, roles=roles, check=False)

    join(village_a, world.cadre_a, ["admin", "cadre"])
    join(village_a, world.villager_a, ["member"])
    join(village_b, world.cadre_b, ["admin", "cadre"])
    join(department, world.county_staff, ["department_staff"])
    session.flush()
    return world
