"""Building blocks of the charity tests: a certified charity with an open project, a campaign
with a pot, and donors who give and pay through the payment sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import Campaign, Charity, Donation, Pot, Project
from gongchuang.charity.schemas import (
    BudgetLineIn,
    CampaignIn,
    CertificationIn,
    CharityIn,
    DonateIn,
    PotIn,
    ProjectIn,
    ProjectStatusIn,
)
from gongchuang.core import organisations, payments
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Organisation, OrganisationKind, Payment, Person
from gongchuang.core.permissions import SYSTEM
from tests.support.principals import acting
from tests.support.world import World, make_person

REGISTRATION = "53430000MJK123456X"


@dataclass
class Giving:
    ngo: Organisation
    platform: Organisation
    charity: Charity
    project: Project
    campaign: Campaign
    pot: Pot
    staff: Person  # runs the charity's projects
    finance: list[Person]  # approve expenses
    reviewer: Person  # the platform's match reviewer
    donors: list[Person]


def certified_charity(
    session: Session, world: World, name: str = "湘西助学公益基金会", number: str = REGISTRATION
) -> tuple[Organisation, Charity, Person, list[Person]]:
    ngo = organisations.create_organisation(
        session, SYSTEM, name=name, kind=OrganisationKind.ngo, region=world.county
    )
    staff = make_person(session, f"1370{number[-7:-1]}0", f"{name[:2]}干事")
    finance = [
        make_person(session, f"1370{number[-7:-1]}{i}", f"{name[:2]}财务{i}") for i in (1, 2)
    ]
    organisations.add_member(session, SYSTEM, ngo, phone=staff.phone, roles=["staff"], check=False)
    for person in finance:
        organisations.add_member(
            session, SYSTEM, ngo, phone=person.phone, roles=["finance"], check=False
        )
    charity = service.register_charity(
        session,
        acting(staff),
        CharityIn(organisation_id=ngo.id, registration_number=number, expense_approvers=2),
    )
    service.certify(session, SYSTEM, charity.id, CertificationIn(certification="certified"))
    return ngo, charity, staff, finance


def open_project(
    session: Session, world: World, charity: Charity, staff: Person, goal_fen: int = 10_000_000
) -> Project:
    project = service.create_project(
        session,
        acting(staff),
        charity.id,
        ProjectIn(
            title="乡村儿童营养午餐",
            summary="为山区小学的孩子提供营养午餐。",
            region_id=world.village_a_region.id,
            goal_fen=goal_fen,
            budget_lines=[
                BudgetLineIn(name="食材", budget_fen=goal_fen * 7 // 10),
                BudgetLineIn(name="厨房设备", budget_fen=goal_fen * 3 // 10),
            ],
        ),
    )
    service.set_project_status(session, acting(staff), project.id, ProjectStatusIn(status="open"))
    return project


def running_campaign(
    session: Session, world: World, platform: Organisation, **pot_terms: Any
) -> tuple[Campaign, Pot]:
    now = utcnow()
    campaign = service.create_campaign(
        session,
        SYSTEM,
        platform.id,
        CampaignIn(
            name="99公益日",
            kind="giving_day",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=3),
        ),
    )
    terms: dict[str, Any] = {"sponsor": "爱心企业", "total_fen": 1_000_000, **pot_terms}
    pot = service.add_pot(session, SYSTEM, campaign.id, PotIn(**terms))
    return campaign, pot


def build_giving(session: Session, world: World, **pot_terms: Any) -> Giving:
    platform = organisations.create_organisation(
        session, SYSTEM, name="共创公益平台", kind=OrganisationKind.platform, region=world.county
    )
    reviewer = make_person(session, "13799990001", "平台审核员")
    organisations.add_member(
        session, SYSTEM, platform, phone=reviewer.phone, roles=["reviewer"], check=False
    )
    ngo, charity, staff, finance = certified_charity(session, world)
    project = open_project(session, world, charity, staff)
    campaign, pot = running_campaign(session, world, platform, **pot_terms)
    service.enrol(session, acting(staff), campaign.id, project.id)
    donors = [make_person(session, f"1380000{i:04d}", f"捐赠人{i}") for i in range(4)]
    # Donors registered a month ago: not "new accounts" to the anti-gaming rules.
    for donor in donors:
        donor.created_at = utcnow() - timedelta(days=30)
    session.flush()
    return Giving(ngo, platform, charity, project, campaign, pot, staff, finance, reviewer, donors)


def pay(session: Session, donation: Donation) -> Donation:
    payment = session.get(Payment, donation.payment_id)
    if payment is None:
        raise LookupError("payment")
    payments.sandbox_pay(session, payment.out_trade_no, payer_id=donation.donor_id)
    session.refresh(donation)
    return donation


def give(
    session: Session,
    donor: Person,
    project: Project,
    amount_fen: int,
    origin: service.DonationOrigin | None = None,
    **kw: Any,
) -> Donation:
    donation = service.donate(
        session,
        acting(donor),
        project.id,
        DonateIn(amount_fen=amount_fen, **kw),
        origin or service.DonationOrigin(),
    )
    return pay(session, donation)


def quadratic_pot(session: Session, giving: Giving) -> tuple[Campaign, Pot]:
    """A community campaign running for another hour, with a ¥100 quadratic-funding pot."""
    now = utcnow()
    campaign = service.create_campaign(
        session,
        SYSTEM,
        giving.platform.id,
        CampaignIn(
            name="社区微心愿",
            kind="giving_day",
            starts_at=now - timedelta(hours=2),
            ends_at=now + timedelta(hours=1),
        ),
    )
    pot = service.add_pot(
        session,
        SYSTEM,
        campaign.id,
        PotIn(sponsor="社区基金会", total_fen=10_000, rule="quadratic"),
    )
    return campaign, pot
