"""The demo generator for volunteer service, and the demo data it writes.

`simulate` is a ground-truth model of who joins what: volunteers are drawn to activities near
home, in categories they care about, and to what their circle of friends already joined; some
activities are simply more popular. `bench/volunteer_recommend.py` evaluates the recommender on
sign-ups this generator holds out. `load_demo` writes a smaller world of the same kind through
the services: a year of past activities with confirmed hours, and activities still to come.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.core import organisations
from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.models import Organisation, OrganisationKind, OutboxMessage, Person
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Activity, ActivityStatus, Shift, Signup, SignupStatus
from gongchuang.volunteer.service.checkin import check_out
from gongchuang.volunteer.service.stars import bump_total

CENTRE = (27.737, 111.305)  # 新化县城
TITLES = {
    "community": ["社区环境清洁日", "邻里互助便民服务", "社区议事会协助"],
    "elderly": ["敬老院陪伴聊天", "独居老人上门探访", "老年人智能手机课堂"],
    "environment": ["资江河岸垃圾清理", "植树护绿行动", "垃圾分类宣传"],
    "education": ["留守儿童课业辅导", "乡村阅读角值守", "暑期科学兴趣班"],
    "emergency": ["应急救护知识宣传", "AED 使用演示", "防汛应急值守"],
    "culture": ["乡村文艺汇演服务", "全民健身活动协助", "图书馆志愿讲解"],
    "health": ["义诊活动引导", "疫苗接种点秩序维护", "健康知识进社区"],
    "events": ["县城马拉松赛道服务", "农民丰收节现场服务", "文明交通劝导"],
    "rural": ["油茶采摘帮扶", "农产品直播助农", "乡村道路清扫"],
}


@dataclass
class SimVolunteer:
    index: int
    lat: float
    lng: float
    interests: list[str]
    skills: list[str]
    availability: list[str]
    circle: int
    activity: float  # how often this person volunteers at all


@dataclass
class SimActivity:
    index: int
    category: str
    lat: float
    lng: float
    skills_wanted: list[str]
    day: int  # days from the start of the simulated year
    capacity: int
    appeal: float  # popularity beyond what the model can see
    joined: list[int] = field(default_factory=list)


def _around(rng: random.Random, spread: float) -> tuple[float, float]:
    return (
        round(CENTRE[0] + rng.gauss(0, spread), 5),
        round(CENTRE[1] + rng.gauss(0, spread * 1.1), 5),
    )


def synthetic(
    rng: random.Random, volunteers: int, activities: int, circles: int = 12
) -> tuple[list[SimVolunteer], list[SimActivity]]:
    categories = list(service.CATEGORIES)
    skills = list(service.SKILLS)
    circle_tastes = [rng.sample(categories, 2) for _ in range(circles)]
    circle_homes = [_around(rng, 0.08) for _ in range(circles)]
    people = []
    for i in range(volunteers):
        circle = rng.randrange(circles)
        home = circle_homes[circle]
        interests = sorted(
            set(circle_tastes[circle][: rng.randint(1, 2)] + rng.sample(categories, 1))
        )
        people.append(
            SimVolunteer(
                index=i,
                lat=round(home[0] + rng.gauss(0, 0.02), 5),
                lng=round(home[1] + rng.gauss(0, 0.02), 5),
                interests=interests,
                skills=rng.sample(skills, rng.randint(0, 2)),
                availability=rng.sample(list(service.AVAILABILITY), rng.randint(1, 2)),
                circle=circle,
                activity=rng.betavariate(2, 5),
            )
        )
    events = []
    for j in range(activities):
        category = rng.choice(categories)
        lat, lng = _around(rng, 0.09)
        events.append(
            SimActivity(
                index=j,
                category=category,
                lat=lat,
                lng=lng,
                skills_wanted=rng.sample(skills, rng.randint(0, 1)),
                day=rng.randrange(365),
                capacity=rng.randint(6, 30),
                appeal=rng.lognormvariate(0, 0.5),
            )
        )
    events.sort(key=lambda a: a.day)
    for j, event in enumerate(events):
        event.index = j
    return people, events


def _km(a_lat: float, a_lng: float, b_lat: float, b_lng: float) -> float:
    dy = (a_lat - b_lat) * 111.0
    dx = (a_lng - b_lng) * 111.0 * math.cos(math.radians(a_lat))
    return math.hypot(dx, dy)


def simulate(
    rng: random.Random, people: list[SimVolunteer], events: list[SimActivity]
) -> list[tuple[int, int]]:
    """Sign-ups (volunteer index, activity index) in time order, by the ground-truth model."""
    joined_circle: dict[tuple[int, int], int] = {}
    signups = []
    for event in events:
        weights = []
        for person in people:
            distance = _km(person.lat, person.lng, event.lat, event.lng)
            weight = person.activity * event.appeal * math.exp(-distance / 4.0)
            weight *= 3.0 if event.category in person.interests else 0.6
            weight *= 1.5 if set(event.skills_wanted) & set(person.skills) else 1.0
            weight *= 1.0 + 2.5 * min(1, joined_circle.get((event.index, person.circle), 0) / 3)
            weights.append(weight)
        total = sum(weights) or 1.0
        # Roughly the capacity's worth of interest, drawn without replacement.
        expected = event.capacity * 0.8
        for person, weight in zip(people, weights, strict=True):
            if len(event.joined) >= event.capacity:
                break
            if rng.random() < min(0.95, expected * weight / total):
                event.joined.append(person.index)
                signups.append((person.index, event.index))
                key = (event.index, person.circle)
                joined_circle[key] = joined_circle.get(key, 0) + 1
    return signups


def load_demo(
    session: Session,
    rng: random.Random,
    ngo: Organisation,
    partner: Organisation,
    people_phones: list[str],
) -> str:
    team = organisations.create_organisation(
        session,
        SYSTEM,
        name="青山示范镇志愿服务队",
        kind=OrganisationKind.ngo,
        region=organisations.get_organisation(session, ngo.id).region,
        description="协会下属的镇级志愿服务队（示范）。",
        parent=ngo,
    )
    organisations.add_member(
        session, SYSTEM, team, phone="13800000007", roles=["admin", "staff"], check=False
    )
    sim_people, sim_events = synthetic(rng, len(people_phones), 40, circles=6)
    persons = {
        p.phone: p for p in session.scalars(select(Person).where(Person.phone.in_(people_phones)))
    }
    volunteers: dict[int, Person] = {}
    for sim, phone in zip(sim_people, people_phones, strict=True):
        person = persons[phone]
        actor = Principal(person_id=person.id, name=person.name, via="demo")
        service.save_profile(
            session,
            actor,
            service.ProfileInput(
                skills=sim.skills,
                interests=sim.interests,
                languages=["普通话", "新化话"],
                availability=sim.availability,
                birth_date=datetime(1960 + sim.index % 45, 1 + sim.index % 12, 1).date(),
                share_location=True,
                home_lat=sim.lat,
                home_lng=sim.lng,
            ),
        )
        volunteers[sim.index] = person
    signups = simulate(rng, sim_people, sim_events)
    now = utcnow()
    start = now - timedelta(days=380)
    organisers = [ngo, team]
    made: dict[int, Activity] = {}
    for event in sim_events:
        title = rng.choice(TITLES[event.category])
        activity = Activity(
            organisation_id=organisers[event.index % 2].id,
            title=title,
            category=event.category,
            description=f"{title}。请提前十分钟到达，签到后听从现场负责人安排。",
            skills_wanted=event.skills_wanted,
            place=f"{title}集合点",
            lat=event.lat,
            lng=event.lng,
            geofence_m=300,
            status=ActivityStatus.closed,
            created_by_person_id=None,
        )
        session.add(activity)
        session.flush()
        day = start + timedelta(days=event.day)
        begins = day.astimezone(SHANGHAI).replace(hour=9, minute=0, second=0, microsecond=0)
        shift = Shift(
            activity_id=activity.id,
            starts_at=begins,
            ends_at=begins + timedelta(hours=rng.choice([2, 3, 4])),
            capacity=event.capacity,
            taken=0,
        )
        session.add(shift)
        session.flush()
        made[event.index] = activity
        event.joined = [shift.id]  # reuse: remember the shift
    staff = session.scalar(select(Person).where(Person.phone == "13800000007"))
    if staff is None:
        raise LookupError("the demo's volunteer organiser (13800000007) is missing")
    organiser = Principal(person_id=staff.id, name=staff.name, via="demo")
    to_verify = []
    for person_index, event_index in signups:
        event = sim_events[event_index]
        found = session.get(Shift, event.joined[0])
        if found is None:
            raise LookupError(f"the demo's shift {event.joined[0]} is missing")
        shift = found
        person = volunteers[person_index]
        if person.id == staff.id:
            continue
        came = rng.random() > 0.07
        signup = Signup(
            shift_id=shift.id,
            person_id=person.id,
            status=SignupStatus.confirmed,
            created_at=shift.starts_at - timedelta(days=rng.randint(1, 10)),
        )
        session.add(signup)
        shift.taken += 1
        if not came:
            signup.status = SignupStatus.no_show
            bump_total(session, person.id, no_shows=1)
            continue
        late = rng.choice([0, 0, 0, 5, 12])
        signup.status = SignupStatus.checked_in
        signup.checked_in_at = shift.starts_at + timedelta(minutes=late)
        signup.late_minutes = late
        signup.check_method = "qr"
        forgot = rng.random() < 0.08
        check_out(
            signup,
            shift,
            shift.ends_at if forgot else shift.ends_at - timedelta(minutes=rng.choice([0, 0, 10])),
            auto=forgot,
        )
        to_verify.append(signup)
    session.flush()
    for signup in to_verify:
        loaded = service.get_signup(session, signup.id)
        service.approve_hours(session, organiser, [loaded])
    # History predates the link to village points: those events are not replayed as records.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.topic == "volunteer.hours_verified")
        .values(dispatched_at=now)
    )
    _upcoming(session, rng, organisers, organiser)
    _benefits(session, partner)
    return (
        f"volunteer: {len(volunteers)} volunteers, {len(made)} past activities, "
        f"{len(to_verify)} shifts served"
    )


def _upcoming(
    session: Session, rng: random.Random, organisers: list[Organisation], organiser: Principal
) -> None:
    today = service.local_day(utcnow())
    plans = [
        ("elderly", "敬老院陪伴聊天", "青山示范镇敬老院", 27.742, 111.298, None, None),
        (
            "emergency",
            "AED 使用演示与急救宣传",
            "新化示范购物中心一楼大厅",
            27.731,
            111.312,
            "first_aid",
            18,
        ),
        ("environment", "资江河岸垃圾清理", "资江风光带", 27.745, 111.318, None, 12),
        ("education", "留守儿童课业辅导", "稻香示范村村委会", 27.760, 111.285, None, 18),
        ("rural", "油茶采摘帮扶", "油茶示范村", 27.752, 111.276, None, None),
        ("community", "社区环境清洁日", "新城示范社区广场", 27.728, 111.321, None, None),
    ]
    for index, (category, title, place, lat, lng, credential, min_age) in enumerate(plans):
        data = service.ActivityInput(
            title=title,
            category=category,
            description=f"{title}。请提前十分钟到达，签到后听从现场负责人安排。",
            place=place,
            lat=lat,
            lng=lng,
            credential_kind=credential,
            min_age=min_age,
            contact_name="吴社工",
            contact_phone="0738-3520000",
        )
        shifts = []
        for offset in (2 + index, 9 + index):
            day = today + timedelta(days=offset)
            starts = datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI)
            shifts.append(
                service.ShiftInput(starts, starts + timedelta(hours=3), rng.randint(8, 20))
            )
        service.create_activity(session, organiser, organisers[index % 2], data, shifts)


def _benefits(session: Session, partner: Organisation) -> None:
    for title, stars, hours, limit, quota in (
        ("购物中心停车券（2 小时）", 0, 4, 4, None),
        ("博物馆免费参观", 1, 0, 2, 500),
        ("体检套餐八折", 3, 0, 1, 100),
    ):
        service.create_benefit(
            session,
            SYSTEM,
            partner,
            service.BenefitInput(
                title=title,
                description="凭领取码到服务台核验。",
                min_star=stars,
                min_hours=hours,
                per_person_limit=limit,
                quota=quota,
            ),
        )
