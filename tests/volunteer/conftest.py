"""A volunteer federation with a team, an organiser, a partner and three volunteers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from gongchuang.core import organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Organisation, OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Activity, Shift
from tests.support.principals import acting
from tests.support.world import World, make_person

SITE = (27.7370, 111.3050)


def profile(**changes) -> service.ProfileInput:
    values = {
        "skills": ["first_aid"],
        "interests": ["elderly", "environment"],
        "languages": ["普通话"],
        "availability": ["weekend"],
        "share_location": True,
        "home_lat": SITE[0] + 0.01,
        "home_lng": SITE[1],
    }
    values.update(changes)
    return service.ProfileInput(**values)


@dataclass
class VolunteerWorld:
    world: World
    federation: Organisation
    team: Organisation
    partner: Organisation
    organiser: Person  # staff of the federation: reaches the team below it
    partner_staff: Person
    alice: Person
    bob: Person
    carol: Person

    def activity(
        self,
        session: Session,
        *,
        starts_in: timedelta = timedelta(days=1),
        hours: int = 3,
        capacity: int = 2,
        **changes,
    ) -> tuple[Activity, Shift]:
        data = {
            "title": "敬老院陪伴",
            "category": "elderly",
            "description": "陪老人聊天",
            "place": "敬老院",
            "lat": SITE[0],
            "lng": SITE[1],
        }
        data.update(changes)
        starts = utcnow() + starts_in
        activity = service.create_activity(
            session,
            acting(self.organiser),
            self.team,
            service.ActivityInput(**data),
            [service.ShiftInput(starts, starts + timedelta(hours=hours), capacity)],
        )
        return activity, service.shifts_of(session, activity)[0]


def move_shift(session: Session, shift: Shift, starts: datetime, hours: int = 3) -> None:
    """Time passes: put the shift where the test needs it."""
    shift.starts_at = starts
    shift.ends_at = starts + timedelta(hours=hours)
    session.flush()


@pytest.fixture
def vw(session: Session, world: World) -> VolunteerWorld:
    def org(name: str, kind: OrganisationKind, parent: Organisation | None = None) -> Organisation:
        return organisations.create_organisation(
            session, SYSTEM, name=name, kind=kind, region=world.county, parent=parent
        )

    federation = org("测试志愿者联合会", OrganisationKind.ngo)
    team = org("测试志愿服务队", OrganisationKind.ngo, federation)
    partner = org("测试博物馆", OrganisationKind.company)
    organiser = make_person(session, "13600000001", "组织者")
    partner_staff = make_person(session, "13600000002", "博物馆员")
    for o, p, roles in ((federation, organiser, ["staff"]), (partner, partner_staff, ["staff"])):
        organisations.add_member(session, SYSTEM, o, phone=p.phone, roles=roles, check=False)
    people = [
        make_person(session, "13600000011", "志愿者甲"),
        make_person(session, "13600000012", "志愿者乙"),
        make_person(session, "13600000013", "志愿者丙"),
    ]
    for person in people:
        service.save_profile(session, acting(person), profile())
    session.commit()
    return VolunteerWorld(world, federation, team, partner, organiser, partner_staff, *people)
