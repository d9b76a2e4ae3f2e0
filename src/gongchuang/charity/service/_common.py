"""What the charity rules share: fetch-and-check helpers (the same NotFound for what is missing
and what is not the caller's), permission checks on an organisation, and codes."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from gongchuang.charity.models import (
    Campaign,
    Certification,
    Charity,
    Fund,
    Project,
    ProjectStatus,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.core.errors import AuthenticationRequired, Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, StoredFile
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


def synced(session: Session, model: type[Any], row_id: int, **values: Any) -> None:
    """Tell an instance the session holds what a table-level UPDATE wrote to its row."""
    loaded = session.identity_map.get(identity_key(model, row_id))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


def check_own_file(session: Session, actor: Principal, file_id: int | None, field: str) -> None:
    """A file attached to a record (an invoice, a report's scan) is one the actor uploaded."""
    if file_id is None:
        return
    stored = session.get(StoredFile, file_id)
    if stored is None or stored.uploader_person_id != actor.person_id:
        raise InvalidInput(
            N_("No such file, or it is not yours to attach"),
            errors=[{"field": field, "message": N_("no such file")}],
        )
