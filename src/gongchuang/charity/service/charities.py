"""Charities and their projects: registration and certification, projects with budget lines,
opening and closing a project for donations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    BudgetLine,
    Certification,
    Charity,
    Project,
    ProjectStatus,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import (
    BudgetLineIn,
    CertificationIn,
    CharityIn,
    ProjectIn,
    ProjectStatusIn,
)
from gongchuang.charity.service._common import (
    charity_of,
    charity_to_manage,
    may_raise,
    project_to_manage,
    require,
)
from gongchuang.core import audit
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, Region
from gongchuang.core.permissions import Principal


def register_charity(session: Session, actor: Principal, command: CharityIn) -> Charity:
    """An organisation's administrator registers it as a charity; it raises money once the
    platform (or the civil-affairs department) has certified it."""
    organisation = session.get(Organisation, command.organisation_id)
    if organisation is None:
        raise NotFound()
    require(session, actor, CharityPerm.MANAGE, organisation.id)
    charity = Charity(
        organisation_id=organisation.id,
        registration_number=command.registration_number,
        region_id=organisation.region_id,
        expense_approvers=command.expense_approvers,
        certification=Certification.pending,
    )
    try:
        with session.begin_nested():
            session.add(charity)
            session.flush()
    except IntegrityError:
        raise Conflict(
            N_("This organisation or this registration number is already registered"),
            errors=[{"field": "registration_number", "message": N_("already registered")}],
        ) from None
    audit.record(
        session,
        actor,
        "charity.registered",
        "charity",
        charity.id,
        after={"registration_number": charity.registration_number},
    )
    return charity


def certify(
    session: Session, actor: Principal, charity_id: int, command: CertificationIn
) -> Charity:
    """The platform or the department over the charity's region certifies or suspends it."""
    charity = session.get(Charity, charity_id)
    if charity is None:
        raise NotFound()
    require(session, actor, CharityPerm.CERTIFY, charity.organisation_id)
    before = charity.certification
    charity.certification = command.certification
    audit.record(
        session,
        actor,
        "charity.certification",
        "charity",
        charity.id,
        before={"certification": before},
        after={"certification": charity.certification},
    )
    return charity


def create_project(
    session: Session, actor: Principal, charity_id: int, command: ProjectIn
) -> Project:
    charity = charity_to_manage(session, actor, charity_id)
    if session.get(Region, command.region_id) is None:
        raise InvalidInput(
            N_("No such region"), errors=[{"field": "region_id", "message": N_("no such region")}]
        )
    project = Project(
        charity_id=charity.id,
        organisation_id=charity.organisation_id,
        title=command.title,
        summary=command.summary,
        region_id=command.region_id,
        goal_fen=command.goal_fen,
        status=ProjectStatus.draft,
    )
    session.add(project)
    session.flush()
    for line in command.budget_lines:
        session.add(BudgetLine(project_id=project.id, name=line.name, budget_fen=line.budget_fen))
    session.flush()
    audit.record(
        session,
        actor,
        "charity.project_created",
        "charity_project",
        project.id,
        after={"title": project.title, "goal_fen": project.goal_fen},
    )
    return project


def add_budget_line(
    session: Session, actor: Principal, project_id: int, command: BudgetLineIn
) -> BudgetLine:
    project = project_to_manage(session, actor, project_id)
    lines = budget_lines(session, project.id)
    if sum(line.budget_fen for line in lines) + command.budget_fen > project.goal_fen:
        raise InvalidInput(
            N_("The budget lines would add up to more than the project's goal"),
            errors=[{"field": "budget_fen", "message": N_("more than the goal leaves")}],
        )
    if any(line.name == command.name for line in lines):
        raise InvalidInput(
            N_("This project already has a budget line of that name"),
            errors=[{"field": "name", "message": N_("already used")}],
        )
    line = BudgetLine(project_id=project.id, name=command.name, budget_fen=command.budget_fen)
    session.add(line)
    session.flush()
    return line


def budget_lines(session: Session, project_id: int) -> list[BudgetLine]:
    return list(
        session.scalars(
            select(BudgetLine).where(BudgetLine.project_id == project_id).order_by(BudgetLine.id)
        )
    )


def set_project_status(
    session: Session, actor: Principal, project_id: int, command: ProjectStatusIn
) -> Project:
    project = project_to_manage(session, actor, project_id)
    if command.status == ProjectStatus.open:
        may_raise(charity_of(session, project))
        if project.status not in (ProjectStatus.draft, ProjectStatus.open):
            raise Conflict(N_("A closed project cannot open again: start a new one"))
    before = project.status
    project.status = command.status
    audit.record(
        session,
        actor,
        "charity.project_status",
        "charity_project",
        project.id,
        before={"status": before},
        after={"status": project.status},
    )
    return project
