"""A charity in village A with a project and its budget lines, two finance officers to approve
its expenses, and a community fund kept by village B with a call open for proposals. Built with
the real service functions on the suite's `session` and `world` (tests/conftest.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    BudgetLine,
    Charity,
    EntryKind,
    Fund,
    FundCall,
    Project,
)
from gongchuang.charity.schemas import (
    BudgetLineIn,
    CharityIn,
    FundCallIn,
    FundIn,
    ProjectIn,
)
from gongchuang.charity.service.ledger import DONORS, write_movement
from gongchuang.core import organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Person
from gongchuang.core.permissions import SYSTEM
from tests.support.principals import acting
from tests.support.world import World, make_person


@dataclass
class CharityWorld:
    world: World
    charity: Charity
    project: Project
    supplies: BudgetLine  # ¥500.00
    transport: BudgetLine  # ¥300.00
    manager: Person  # village A's cadre: MANAGE and APPROVE (administrator)
    finance: list[Person]  # village A's two finance officers: APPROVE only


def join(session: Session, organisation_id: int, person: Person, role: str) -> None:
    organisation = organisations.get_organisation(session, organisation_id)
    organisations.add_member(
        session, SYSTEM, organisation, phone=person.phone, roles=[role], check=False
    )


@pytest.fixture
def charity_world(session: Session, world: World) -> CharityWorld:
    manager = acting(world.cadre_a)
    charity = service.register_charity(
        session,
        manager,
        CharityIn(
            organisation_id=world.village_a.id,
            registration_number="53431322MJ00000012",
            expense_approvers=2,
        ),
    )
    project = service.create_project(
        session,
        manager,
        charity.id,
        ProjectIn(
            title="留守儿童课后书屋",
            region_id=world.village_a_region.id,
            goal_fen=100_000,
            budget_lines=[
                BudgetLineIn(name="图书采购", budget_fen=50_000),
                BudgetLineIn(name="运输", budget_fen=30_000),
            ],
        ),
    )
    supplies, transport = service.budget_lines(session, project.id)
    finance = [make_person(session, f"1380000{i:04d}", f"财务{i}") for i in range(2)]
    session.flush()
    for person in finance:
        join(session, world.village_a.id, person, "finance")
    session.flush()
    return CharityWorld(world, charity, project, supplies, transport, world.cadre_a, finance)


def receive(session: Session, project: Project, amount_fen: int) -> None:
    """Money received for a project, as paid donations would add it (a counter and a ledger
    movement), without going through a payment."""
    session.flush()
    session.execute(
        update(Project)
        .where(Project.id == project.id)
        .values(raised_fen=Project.raised_fen + amount_fen)
    )
    write_movement(
        session,
        kind=EntryKind.donation,
        source=f"test:{secrets.token_hex(6)}",
        debit=DONORS,
        credit=service.project_account(project.id),
        amount_fen=amount_fen,
        project_id=project.id,
    )
    session.refresh(project)


def fund_receives(session: Session, fund: Fund, amount_fen: int) -> None:
    """Money received by a community fund, as paid contributions would add it."""
    session.flush()
    session.execute(
        update(Fund).where(Fund.id == fund.id).values(received_fen=Fund.received_fen + amount_fen)
    )
    write_movement(
        session,
        kind=EntryKind.donation,
        source=f"test:{secrets.token_hex(6)}",
        debit=DONORS,
        credit=service.fund_account(fund.id),
        amount_fen=amount_fen,
        fund_id=fund.id,
    )
    session.refresh(fund)


@dataclass
class FundWorld:
    world: World
    fund: Fund  # kept by village B
    call: FundCall  # open now, ¥1,000.00 to grant
    keeper: Person  # village B's cadre
    proposer: Person  # village A's cadre, proposing for village A


def open_fund_call(
    session: Session,
    keeper: Person,
    fund: Fund,
    *,
    budget_fen: int = 100_000,
    opened_days_ago: int = 1,
    closes_in_days: int = 30,
) -> FundCall:
    now = utcnow()
    return service.open_call(
        session,
        acting(keeper),
        fund.id,
        FundCallIn(
            title="社区微创投",
            budget_fen=budget_fen,
            opens_at=now - timedelta(days=opened_days_ago),
            closes_at=now + timedelta(days=closes_in_days),
        ),
    )


@pytest.fixture
def fund_world(session: Session, world: World) -> FundWorld:
    fund = service.create_fund(
        session,
        acting(world.cadre_b),
        FundIn(
            organisation_id=world.village_b.id,
            name="乙村社区基金",
            region_id=world.village_b_region.id,
        ),
    )
    call = open_fund_call(session, world.cadre_b, fund)
    return FundWorld(world, fund, call, world.cadre_b, world.cadre_a)
