"""A mall with an AED and a trained staff member, a 120 centre, a training hospital and
first-aiders on duty at known distances from an incident site."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from gongchuang.core import credentials, organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Organisation, OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.core.webhooks import sign
from gongchuang.emergency import matching, service
from gongchuang.emergency.models import Aed, DispatchCentre
from gongchuang.emergency.schemas import AedIn, CentreIn
from tests.emergency.commands import duty
from tests.support.principals import acting
from tests.support.world import World, make_person

SITE = (27.7370, 111.3050)


def at(north_m: float, east_m: float, origin: tuple[float, float] = SITE) -> tuple[float, float]:
    lat = origin[0] + north_m / matching.METRES_PER_DEGREE
    lng = origin[1] + east_m / (matching.METRES_PER_DEGREE * 0.885)  # cos(27.7°)
    return round(lat, 7), round(lng, 7)


def eido(external_id: str = "ZZ-1", point: tuple[float, float] = SITE, **changes) -> bytes:
    document = {
        "eidoVersion": "1.0",
        "incidentComponent": {
            "incidentTrackingIdentifier": external_id,
            "incidentTypeCommonRegistryText": "cardiac_arrest",
            "dispatchCode": "09E01",
        },
        "locationComponent": {
            "latitude": point[0],
            "longitude": point[1],
            "civicAddressText": "示范商场一楼中庭",
        },
    }
    document.update(changes)
    return json.dumps(document, ensure_ascii=False).encode()


@dataclass
class EmergencyWorld:
    world: World
    mall: Organisation
    dispatch: Organisation
    hospital: Organisation
    centre: DispatchCentre
    secret: str
    mall_staff: Person
    dispatcher: Person
    aed: Aed
    responders: list[Person] = field(default_factory=list)

    def first_aid(self, session: Session, person: Person) -> None:
        credentials.issue_credential(
            session,
            SYSTEM,
            self.hospital,
            person,
            kind="first_aid",
            title="救护员证",
            certificate_no=f"T-{person.id}",
            valid_from=utcnow() - timedelta(days=10),
            valid_until=utcnow() + timedelta(days=700),
        )

    def on_duty(self, session: Session, person: Person, point: tuple[float, float]) -> None:
        service.join_network(session, acting(person))
        service.set_duty(session, acting(person), duty(True, point, consent_location=True))

    def receive(self, session: Session, body: bytes | None = None, key: str = "k-1"):
        body = body or eido()
        return service.receive_from_centre(
            session, acting(self.dispatcher), self.centre.code, body, sign(self.secret, body), key
        )


@pytest.fixture
def ew(session: Session, world: World) -> EmergencyWorld:
    def org(name: str, kind: OrganisationKind) -> Organisation:
        return organisations.create_organisation(
            session, SYSTEM, name=name, kind=kind, region=world.county
        )

    mall = org("示范商场", OrganisationKind.company)
    dispatch = org("示范120中心", OrganisationKind.dispatch_centre)
    hospital = org("示范医院", OrganisationKind.hospital)
    mall_staff = make_person(session, "13500000001", "商场安保")
    dispatcher = make_person(session, "13500000002", "调度员")
    organisations.add_member(
        session, SYSTEM, mall, phone=mall_staff.phone, roles=["staff"], check=False
    )
    organisations.add_member(
        session, SYSTEM, dispatch, phone=dispatcher.phone, roles=["dispatcher"], check=False
    )
    centre, secret = service.save_centre(
        session,
        SYSTEM,
        dispatch,
        CentreIn(code="test-120", name="示范120", lat=SITE[0], lng=SITE[1]),
    )
    assert secret
    # The AED lies 150 m north of the site, on the way of a responder coming from the north.
    lat, lng = at(150, 0)
    aed = service.create_aed(
        session,
        SYSTEM,
        mall,
        AedIn(
            lat=lat,
            lng=lng,
            address="商场北门",
            indoor_directions="北门保安亭内",
            opening_hours="24/7",
        ),
    )
    built = EmergencyWorld(
        world, mall, dispatch, hospital, centre, secret, mall_staff, dispatcher, aed
    )
    for number, (north, east) in enumerate([(300, 0), (-400, 0), (0, 500)]):
        person = make_person(session, f"1350000010{number}", f"急救员{number + 1}")
        built.first_aid(session, person)
        built.on_duty(session, person, at(north, east))
        built.responders.append(person)
    session.commit()
    return built
