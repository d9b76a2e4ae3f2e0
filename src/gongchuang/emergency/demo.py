"""Demo data for the first-aid network: the mall's and the college's AEDs and staff responders,
on-duty volunteers around the town, the 120 centre, population points for the coverage report,
a few past incidents, and `replay_incident` that plays a new one step by step."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import credentials, organisations, people
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import Organisation, OrganisationKind, Person, Region
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.core.webhooks import sign
from gongchuang.emergency import matching, service
from gongchuang.emergency.models import Alert, AlertStatus, DispatchCentre, Incident, Responder
from gongchuang.emergency.schemas import (
    AedIn,
    AlertAnswer,
    CentreIn,
    DutyIn,
    EtaIn,
    OutcomeIn,
    PointIn,
    ProgressIn,
)

MALL = (27.73700, 111.30500)
COLLEGE = (27.72900, 111.29600)
CENTRE_CODE = "loudi-120"


def _offset(rng: random.Random, origin: tuple[float, float], max_m: float) -> tuple[float, float]:
    distance = max_m * math.sqrt(rng.random())
    bearing = rng.random() * 2 * math.pi
    d_lat = distance * math.cos(bearing) / matching.METRES_PER_DEGREE
    d_lng = (
        distance
        * math.sin(bearing)
        / (matching.METRES_PER_DEGREE * math.cos(math.radians(origin[0])))
    )
    return round(origin[0] + d_lat, 6), round(origin[1] + d_lng, 6)


AEDS = [
    # venue, offset (m north, m east), address, directions, opening hours
    (
        "mall",
        (0, 0),
        "新化示范购物中心一楼服务台",
        "正门进入右手边服务台旁，红色AED箱",
        "Mo-Su 10:00-22:00",
    ),
    (
        "mall",
        (60, -40),
        "新化示范购物中心三楼影院入口",
        "三楼扶梯上来左转，影院检票口墙上",
        "Mo-Su 10:00-23:30",
    ),
    ("mall", (-30, 70), "新化示范购物中心地下停车场B1", "B1电梯厅旁，保安亭对面", "24/7"),
    ("college", (0, 0), "示范职业技术学院体育馆", "体育馆一楼大厅值班室门口", "Mo-Su 07:00-22:00"),
    (
        "college",
        (250, 120),
        "示范职业技术学院图书馆",
        "图书馆一楼总服务台",
        "Mo-Fr 08:00-22:00; Sa,Su 09:00-17:00",
    ),
    ("college", (-200, -150), "示范职业技术学院学生宿舍3栋", "宿舍楼门卫室内，24小时有人", "24/7"),
    (
        "college",
        (120, -260),
        "示范职业技术学院教学楼A座",
        "A座一楼东侧楼梯口",
        "Mo-Fr 07:00-22:00; PH off",
    ),
]
# Buildings that keep to the working calendar: open on make-up working days (调休).
FOLLOW_WORKDAYS = {"示范职业技术学院教学楼A座"}


def _at(origin: tuple[float, float], north_m: float, east_m: float) -> tuple[float, float]:
    return (
        round(origin[0] + north_m / matching.METRES_PER_DEGREE, 6),
        round(
            origin[1] + east_m / (matching.METRES_PER_DEGREE * math.cos(math.radians(origin[0]))),
            6,
        ),
    )


def _person(session: Session, phone: str) -> Person:
    return people.get_person_by_phone(session, phone)


def _first_aid(session: Session, hospital: Organisation, person: Person, number: str) -> None:
    if service.holds_first_aid(session, person.id):
        return
    start = utcnow() - timedelta(days=200)
    credentials.issue_credential(
        session,
        SYSTEM,
        hospital,
        person,
        kind="first_aid",
        title="红十字救护员证",
        certificate_no=number,
        valid_from=start,
        valid_until=start + timedelta(days=730),
    )


def _acting(person: Person) -> Principal:
    return Principal(person_id=person.id, name=person.name)


def load_demo(
    session: Session,
    rng: random.Random,
    *,
    county: Region,
    town: Region,
    mall: Organisation,
    college: Organisation,
    hospital: Organisation,
    dispatch: Organisation,
    department_phone: str,
    responder_phones: list[str],
) -> str:
    venues = {"mall": (mall, MALL), "college": (college, COLLEGE)}
    today = local_today()
    for index, (venue_key, (north, east), address, directions, hours) in enumerate(AEDS):
        venue, origin = venues[venue_key]
        lat, lng = _at(origin, north, east)
        service.create_aed(
            session,
            SYSTEM,
            venue,
            AedIn(
                lat=lat,
                lng=lng,
                brand=rng.choice(["迈瑞", "飞利浦", "久心", "日本光电"]),
                model=rng.choice(["BeneHeart S1", "HeartStart HS1", "iAED-S1", "AED-3100"]),
                serial=f"XH-AED-{2023000 + index}",
                address=address,
                indoor_directions=directions,
                opening_hours=hours,
                follows_workdays=address in FOLLOW_WORKDAYS,
                battery_expires_on=today + timedelta(days=rng.randint(20, 900)),
                # The cinema AED's pads ran out: it shows up as not usable, with a reminder.
                pads_expire_on=today - timedelta(days=3)
                if index == 1
                else today + timedelta(days=rng.randint(60, 700)),
                last_inspected_on=today - timedelta(days=rng.randint(3, 40)),
            ),
        )
    centre, _ = service.save_centre(
        session,
        SYSTEM,
        dispatch,
        CentreIn(
            code=CENTRE_CODE,
            name=dispatch.name,
            lat=MALL[0],
            lng=MALL[1],
            service_radius_km=80,
        ),
    )
    # Responders: the listed first-aiders around town, plus trained staff of both venues.
    responders = []
    for number, phone in enumerate(responder_phones):
        person = _person(session, phone)
        _first_aid(session, hospital, person, f"XH-FA-D{number:04d}")
        responders.append(person)
    staff = []
    for venue_key, (venue, _origin) in venues.items():
        plain_staff = [
            m.person for m in organisations.list_members(session, venue) if m.roles == ["staff"]
        ]
        for person in plain_staff[:3]:
            _first_aid(session, hospital, person, f"XH-FA-{venue_key}-{person.id}")
            service.invite(session, SYSTEM, venue, person.id)
            staff.append((person, venue_key))
    for number, person in enumerate(responders + [p for p, _ in staff]):
        actor = _acting(person)
        service.join_network(session, actor)
        origin = COLLEGE if number % 3 == 2 else MALL
        lat, lng = _offset(rng, origin, 900)
        service.set_duty(
            session,
            actor,
            DutyIn(on_duty=True, location=PointIn(lat=lat, lng=lng), consent_location=True),
        )
    # A health bureau oversees coverage for the county.
    bureau = organisations.create_organisation(
        session,
        SYSTEM,
        name="新化县卫生健康局（示范）",
        kind=OrganisationKind.government_department,
        region=county,
        description="全县AED布点与社会化急救的主管部门（示范）。",
    )
    organisations.add_member(
        session,
        SYSTEM,
        bureau,
        phone=department_phone,
        roles=["health_staff"],
        title="科长",
        check=False,
    )
    from gongchuang.emergency.models import PopulationPoint

    places = [("购物中心", MALL, 3000), ("职业技术学院", COLLEGE, 6000)]
    for number in range(160):
        lat, lng = _offset(rng, MALL, 2500)
        places.append((f"居民点{number + 1:03d}", (lat, lng), rng.randint(50, 600)))
    for label, (lat, lng), weight in places:
        session.add(
            PopulationPoint(region_id=town.id, label=label, lat=lat, lng=lng, weight=weight)
        )
    session.flush()
    past = _past_incidents(session, rng, centre, responders)
    return (
        f"emergency: {len(AEDS)} AEDs, {len(responders) + len(staff)} responders on duty, "
        f"centre {CENTRE_CODE}, {len(places)} population points, {past} past incidents"
    )


def _past_incidents(
    session: Session, rng: random.Random, centre: DispatchCentre, responders: list[Person]
) -> int:
    """Three earlier cardiac arrests played through the real service, so the console has a
    history (accept, AED fetched, on scene, closed with an outcome)."""
    for number in range(3):
        lat, lng = _offset(rng, MALL, 500)
        incident, _ = signed_incident(session, centre, f"DEMO-{number + 1}", lat, lng, "09E01")
        alerts = list(session.scalars(select(Alert).where(Alert.incident_id == incident.id)))
        for alert in alerts[:3]:
            person = people.get_person(session, alert.person_id)
            service.answer(session, _acting(person), alert.id, AlertAnswer(accept=True))
            if alert.route == "via_aed":
                service.progress(session, _acting(person), alert.id, ProgressIn(step="at_aed"))
            service.progress(session, _acting(person), alert.id, ProgressIn(step="on_scene"))
        service.set_ambulance_eta(session, SYSTEM, incident, EtaIn(minutes=9))
        service.close(
            session,
            SYSTEM,
            incident,
            OutcomeIn(
                witnessed=True,
                bystander_cpr=True,
                aed_applied=number != 1,
                shock_delivered=number == 0,
                rosc=number == 0,
            ),
        )
    return 3


def signed_incident(
    session: Session,
    centre: DispatchCentre,
    external_id: str,
    lat: float,
    lng: float,
    code: str,
    address: str = "新化示范购物中心附近",
) -> tuple[Incident, bool]:
    """What a 120 centre's system does: an EIDO-style document, signed with the secret."""
    body = json.dumps(
        {
            "eidoVersion": "1.0",
            "incidentComponent": {
                "incidentTrackingIdentifier": external_id,
                "incidentTypeCommonRegistryText": "cardiac_arrest",
                "dispatchCode": code,
            },
            "locationComponent": {
                "latitude": lat,
                "longitude": lng,
                "civicAddressText": address,
            },
            "notesComponent": [{"notesActionComments": "男性，约60岁，突然倒地，无呼吸"}],
        },
        ensure_ascii=False,
    ).encode()
    return service.receive_from_centre(
        session, SYSTEM, centre.code, body, sign(centre.secret, body), f"key-{external_id}"
    )


def replay_incident(database: Database, pause: float, say: Callable[[str], None]) -> None:
    """A new cardiac arrest at the mall, played in steps a visitor can watch on the console
    (log in as the 120 dispatcher) or as a responder."""
    with database.transaction() as session:
        centre = session.scalar(select(DispatchCentre).where(DispatchCentre.code == CENTRE_CODE))
        if centre is None:
            raise SystemExit("no demo 120 centre: load the demo first (gongchuang demo)")
        # The responders' phones report their positions again, as they would on duty.
        rng = random.Random()
        for responder in session.scalars(select(Responder).where(Responder.on_duty.is_(True))):
            responder.lat, responder.lng = _offset(rng, MALL, 900)
            responder.duty_cell = matching.geo_cell(responder.lat, responder.lng)
            responder.located_at = utcnow()
        incident, _ = signed_incident(
            session,
            centre,
            f"REPLAY-{int(time.time())}",
            *_at(MALL, 10, 15),
            "09E01",
            "新化示范购物中心一楼中庭",
        )
        incident_id = incident.id
        say(f"incident {incident.reference} received; console: /emergency/incidents/{incident_id}")
    steps = 0
    while True:
        time.sleep(pause)
        with database.transaction() as session:
            current = session.get(Incident, incident_id)
            if current is None:
                raise LookupError(f"incident {incident_id} is gone; the replay stops")
            alerts = list(
                session.scalars(
                    select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.eta_s)
                )
            )
            waiting = [a for a in alerts if a.status == AlertStatus.sent]
            accepted = [a for a in alerts if a.status == AlertStatus.accepted]
            if len(accepted) < 3 and waiting:
                alert = waiting[0]
                person = people.get_person(session, alert.person_id)
                accept = steps % 3 != 1
                service.answer(session, _acting(person), alert.id, AlertAnswer(accept=accept))
                say(f"{person.name} {'accepted' if accept else 'declined'} ({alert.route})")
            elif steps < 12:
                moved = False
                for alert in accepted:
                    person = people.get_person(session, alert.person_id)
                    step = (
                        "at_aed"
                        if alert.route == "via_aed" and alert.at_aed_at is None
                        else ("on_scene" if alert.on_scene_at is None else None)
                    )
                    if step:
                        service.progress(session, _acting(person), alert.id, ProgressIn(step=step))
                        say(f"{person.name}: {step}")
                        moved = True
                        break
                if not moved:
                    if current.ambulance_eta_at is None:
                        service.set_ambulance_eta(session, SYSTEM, current, EtaIn(minutes=6))
                        say("dispatcher: ambulance in 6 minutes")
                    else:
                        service.close(
                            session,
                            SYSTEM,
                            current,
                            OutcomeIn(
                                witnessed=True,
                                bystander_cpr=True,
                                aed_applied=True,
                                shock_delivered=True,
                                rosc=True,
                            ),
                        )
                        say("closed with an outcome: shock delivered, pulse returned")
                        return
            else:
                service.close(session, SYSTEM, current, OutcomeIn(cancelled=True))
                say("nobody else answered; closed")
                return
        steps += 1
