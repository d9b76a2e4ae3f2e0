"""The demo world every module builds on: a real county (新化县, 湖南省娄底市 — home of the
Youxiqiao points model) with invented towns and villages whose names say 示范 (demo)."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.adoption import demo as adoption_demo
from gongchuang.charity import demo as charity_demo
from gongchuang.core import credentials, organisations, people, regions
from gongchuang.core.clock import utcnow
from gongchuang.core.identity import id_check_digit
from gongchuang.core.models import Organisation, OrganisationKind, Person, Region
from gongchuang.core.passwords import hash_password
from gongchuang.core.permissions import SYSTEM
from gongchuang.emergency import demo as emergency_demo
from gongchuang.modules import load_modules
from gongchuang.points import demo as points_demo
from gongchuang.training import demo as training_demo
from gongchuang.volunteer import demo as volunteer_demo

DEMO_PASSWORD = "gongchuang2026"  # noqa: S105 - documented demo login, README
COUNTY_CODE = "431322"  # 新化县

# (code, name, kind): towns and villages/communities are invented, under the real county.
TOWNS = [
    ("431322101000", "青山示范镇", "镇"),
    ("431322102000", "溪口示范镇", "镇"),
]
VILLAGES = [
    ("431322101201", "油茶示范村", "村", "431322101000"),
    ("431322101202", "稻香示范村", "村", "431322101000"),
    ("431322101203", "竹林示范村", "村", "431322101000"),
    ("431322102201", "梯田示范村", "村", "431322102000"),
    ("431322102001", "新城示范社区", "社区", "431322102000"),
]

# The accounts documented in the README: (phone, name, is_platform_admin).
DEMO_LOGINS = [
    ("13800000000", "平台管理员", True),
    ("13800000001", "李村支书", False),
    ("13800000002", "王大妈", False),
    ("13800000003", "赵科长", False),
    ("13800000004", "陈店长", False),
    ("13800000005", "刘调度", False),
    ("13800000006", "周医生", False),
    ("13800000007", "吴社工", False),
    ("13800000008", "孙组长", False),
    ("13800000009", "钱处长", False),
    ("13800000010", "郑校长", False),
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强春梅海"
    "燕丹丹小红文斌德明桂香冬梅金凤"
)


def demo_resident_id(rng: random.Random, region_code: str) -> str:
    born = f"{rng.randint(1945, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = f"{region_code}{born}{rng.randint(0, 999):03d}"
    return first17 + id_check_digit(first17)


def load_demo_world(
    session: Session,
    *,
    only_if_empty: bool = False,
    people_count: int = 300,
    points_weeks: int = 52,
) -> str:
    if only_if_empty and session.scalar(select(Person.id).limit(1)) is not None:
        return "demo world already present; nothing loaded"
    load_modules()  # the roles the demo's people hold
    rng = random.Random(2026)
    if session.scalar(select(Region.id).where(Region.code == COUNTY_CODE)) is None:
        regions.import_rows(session, SYSTEM, regions.builtin_rows())
    county = regions.get_region(session, COUNTY_CODE)
    extra = [regions.RegionRow(i, c, n, "", COUNTY_CODE, k) for i, (c, n, k) in enumerate(TOWNS)]
    extra += [
        regions.RegionRow(100 + i, c, n, "", parent, k)
        for i, (c, n, k, parent) in enumerate(VILLAGES)
    ]
    regions.import_rows(session, SYSTEM, extra)
    city = regions.get_region(session, "431300")
    place = {code: regions.get_region(session, code) for code, *_ in TOWNS + VILLAGES}

    def org(
        name: str,
        kind: OrganisationKind,
        region: Region,
        description: str = "",
        parent: Organisation | None = None,
    ) -> Organisation:
        return organisations.create_organisation(
            session,
            SYSTEM,
            name=name,
            kind=kind,
            region=region,
            description=description,
            parent=parent,
        )

    county_gov = org(
        "新化县人民政府（示范）",
        OrganisationKind.government_department,
        county,
        "县级部门的上级单位，示范数据。",
    )
    agri = org(
        "新化县农业农村局（示范）",
        OrganisationKind.government_department,
        county,
        "负责全县村级积分制管理的推广与汇总。",
        county_gov,
    )
    villages = {
        code: org(
            f"{place[code].name}村民委员会" if k == "村" else f"{place[code].name}居民委员会",
            OrganisationKind.village_committee
            if k == "村"
            else OrganisationKind.residents_committee,
            place[code],
        )
        for code, _n, k, _p in VILLAGES
    }
    ngo = org(
        "新化县共创志愿者协会（示范）", OrganisationKind.ngo, county, "组织志愿服务和急救培训。"
    )
    mall = org(
        "新化示范购物中心",
        OrganisationKind.company,
        place["431322102000"],
        "商场，配有AED和经过培训的员工。",
    )
    university = org(
        "新化示范职业技术学院",
        OrganisationKind.school,
        place["431322102000"],
        "校园AED部署和急救教育。",
    )
    hospital = org(
        "新化县人民医院（示范）", OrganisationKind.hospital, county, "急救培训与认证机构。"
    )
    dispatch = org(
        "娄底市120急救指挥中心（示范）",
        OrganisationKind.dispatch_centre,
        city,
        "120调度中心，通过接口向平台派发事件。",
    )

    shared_hash = hash_password(DEMO_PASSWORD)
    accounts: dict[str, Person] = {}
    for phone, name, admin in DEMO_LOGINS:
        person = people.register_person(
            session,
            SYSTEM,
            name=name,
            phone=phone,
            home_region_id=county.id,
            is_platform_admin=admin,
            resident_id=demo_resident_id(rng, COUNTY_CODE),
        )
        person.password_hash = shared_hash
        people.set_consent(session, SYSTEM, person, "privacy_policy", True)
        accounts[phone] = person

    def join(o: Organisation, phone: str, roles: list[str], title: str = "") -> None:
        organisations.add_member(
            session, SYSTEM, o, phone=phone, roles=roles, title=title, check=False
        )

    first_village = villages["431322101201"]
    join(first_village, "13800000001", ["admin", "cadre"], "村支书")
    join(first_village, "13800000002", ["member"], "村民")
    join(first_village, "13800000008", ["group_leader"], "村民小组长")
    join(first_village, "13800000004", ["shopkeeper"], "积分超市店主")
    join(agri, "13800000003", ["admin", "department_staff"], "科长")
    join(mall, "13800000004", ["admin", "staff"], "店长")
    join(dispatch, "13800000005", ["admin", "staff"], "调度员")
    join(hospital, "13800000006", ["admin", "trainer"], "急诊科医生")
    join(ngo, "13800000007", ["admin", "staff"], "社工")

    village_codes = [code for code, *_ in VILLAGES]
    for index in range(people_count):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        phone = f"139{index:08d}"
        home = village_codes[index % len(village_codes)]
        person = people.register_person(
            session,
            SYSTEM,
            name=name,
            phone=phone,
            home_region_id=place[home].id,
            resident_id=demo_resident_id(rng, COUNTY_CODE) if index % 3 == 0 else None,
        )
        person.password_hash = shared_hash
        roles = ["member"]
        if index % 50 == 0:
            roles = ["cadre"]
        elif index % 25 == 0:
            roles = ["grid_worker"]
        join(villages[home], phone, roles, "村干部" if "cadre" in roles else "")
        if index % 10 == 0:
            join(ngo, phone, ["member"], "志愿者")
        if index % 12 == 0:
            valid_from = utcnow() - timedelta(days=rng.randint(30, 500))
            credentials.issue_credential(
                session,
                SYSTEM,
                hospital,
                person,
                kind="first_aid",
                title="红十字救护员证",
                certificate_no=f"XH-FA-{2025000 + index}",
                valid_from=valid_from,
                valid_until=valid_from + timedelta(days=730),
            )
    for staff_index in range(6):
        join(mall, f"139{(staff_index * 7) % people_count:08d}", ["staff"], "商场员工")
        join(university, f"139{(staff_index * 11 + 1) % people_count:08d}", ["staff"], "学校职工")
    session.flush()
    points_summary = points_demo.load_demo(
        session,
        rng,
        [villages[code] for code in ("431322101201", "431322101202", "431322102201")],
        weeks=points_weeks,
    )
    volunteer_phones = ["13800000002"] + [
        f"139{index:08d}" for index in range(people_count) if index % 5 in (0, 1)
    ]
    volunteer_summary = volunteer_demo.load_demo(session, rng, ngo, mall, volunteer_phones)
    emergency_summary = emergency_demo.load_demo(
        session,
        rng,
        county=county,
        town=place["431322102000"],
        mall=mall,
        college=university,
        hospital=hospital,
        dispatch=dispatch,
        department_phone="13800000003",
        responder_phones=["13800000007"]
        + [f"139{index:08d}" for index in range(people_count) if index % 12 == 0],
    )
    training_summary = training_demo.load_demo(
        session,
        rng,
        hospital=hospital,
        department_person=accounts["13800000009"],
        institution_person=accounts["13800000010"],
        learner_phones=["13800000002"]
        + [f"139{index:08d}" for index in range(people_count) if index % 4 == 1],
        resident_id=lambda code: demo_resident_id(rng, code),
    )
    adopter_phones = [f"139{index:08d}" for index in range(people_count) if index % 3 != 2]
    adoption_summary = adoption_demo.load_demo(
        session,
        rng,
        village=first_village,
        cadre=accounts["13800000001"],
        villager=accounts["13800000002"],
        adopters=list(
            session.scalars(
                select(Person).where(Person.phone.in_(adopter_phones[:90])).order_by(Person.id)
            )
        ),
    )
    donor_phones = [f"139{index:08d}" for index in range(people_count) if index % 4 != 3]
    charity_summary = charity_demo.load_demo(
        session,
        rng,
        accounts=accounts,
        county=county,
        village=first_village,
        department=agri,
        donors=list(
            session.scalars(
                select(Person).where(Person.phone.in_(donor_phones[:90])).order_by(Person.id)
            )
        ),
    )
    total = session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1))
    return (
        f"demo world loaded: county {county.name}, {len(TOWNS)} towns, {len(VILLAGES)} "
        f"villages/communities, {len(DEMO_LOGINS) + people_count} people (last id {total}); "
        f"{points_summary}; {volunteer_summary}; {emergency_summary}; {training_summary}; "
        f"{adoption_summary}; {charity_summary}"
    )
