"""What the charity rules share: fetch-and-check helpers (the same NotFound for what is missing
and what is not the caller's), permission checks on an organisation, and codes."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    Campaign,
    Certification,
    Charity,
    Fund,
    Project,
    ProjectStatus,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.core.errors import AuthenticationRequired, Conflict, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission


def new_code(prefix: str) -> str:
    """A receipt or reference number: the prefix and 14 digits (read out over the phone)."""
    return prefix + "".join(secrets.choice("0123456789") for _ in range(14))


def person_of(actor: Principal) -> int:
    if actor.person_id is None:
        raise AuthenticationRequired()
    return actor.person_id


def may(session: Session, actor: Principal, perm: CharityPerm, organisation_id: int) -> bool:
    return has_permission(session, actor, perm, session.get(Organisation, organisation_id))


def require(session: Session, actor: Principal, perm: CharityPerm, organisation_id: int) -> None:
    """Refuse as NotFound: what a person may not act on is not shown to exist."""
    if not may(session, actor, perm, organisation_id):
        raise NotFound()


def charity_to_manage(session: Session, actor: Principal, charity_id: int) -> Charity:
    charity = session.get(Charity, charity_id)
    if charity is None:
        raise NotFound()
    require(session, actor, CharityPerm.MANAGE, charity.organisation_id)
    return charity


def project_to_manage(
    session: Session, actor: Principal, project_id: int, perm: CharityPerm = CharityPerm.MANAGE
) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound()
    require(session, actor, perm, project.organisation_id)
    return project


def public_project(session: Session, project_id: int) -> Project:
    """A project the public may see: any but a draft."""
    project = session.get(Project, project_id)
    if project is None or project.status == ProjectStatus.draft:
        raise NotFound()
    return project


def campaign_to_run(session: Session, actor: Principal, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound()
    require(session, actor, CharityPerm.CAMPAIGN, campaign.organisation_id)
    return campaign


def fund_to_keep(session: Session, actor: Principal, fund_id: int) -> Fund:
    fund = session.get(Fund, fund_id)
    if fund is None:
        raise NotFound()
    require(session, actor, CharityPerm.MANAGE, fund.organisation_id)
    return fund


def charity_of(session: Session, project: Project) -> Charity:
    charity = session.get(Charity, project.charity_id)
    if charity is None:
        raise LookupError(f"charity of project {project.id}")
    return charity


def may_raise(charity: Charity) -> None:
    if charity.certification != Certification.certified:
        raise Conflict(N_("This charity is not certified: it cannot raise money on the platform"))
