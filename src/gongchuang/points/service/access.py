"""Who may see a village's points: members, the staff above them, and the public notice for all."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gongchuang.core.errors import NotFound
from gongchuang.core.models import (
    Membership,
    Organisation,
)
from gongchuang.core.permissions import READ_SCOPE, Principal, has_permission
from gongchuang.points.models import (
    Reporter,
    RuleCatalogue,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.service._common import (
    VILLAGE_KINDS,
)


def roles_in(session: Session, person_id: int | None, organisation_id: int) -> set[str]:
    if person_id is None:
        return set()
    roles = session.scalar(
        select(Membership.roles).where(
            Membership.person_id == person_id, Membership.organisation_id == organisation_id
        )
    )
    if roles is None:
        return set()
    held = set(roles) | {"member"}
    if "admin" in held:
        held.add(Reporter.cadre)  # the committee's administrators act as cadres
    return held


def is_member(session: Session, person_id: int | None, organisation_id: int) -> bool:
    return bool(roles_in(session, person_id, organisation_id))


def can(session: Session, principal: Principal, perm: str, village: Organisation) -> bool:
    return has_permission(session, principal, perm, village)


def village_for_the_public(session: Session, organisation_id: int) -> Organisation:
    """The village whose public notice (公示) anyone may read, signed in or not: the notice is
    posted for the whole village to see and object to (names and points; no phone, no ID)."""
    village = session.scalar(
        select(Organisation)
        .options(joinedload(Organisation.region))
        .where(Organisation.id == organisation_id)
    )
    if village is None or village.kind not in VILLAGE_KINDS:
        raise NotFound()
    return village


def get_village_for(
    session: Session, principal: Principal, organisation_id: int, perm: str | None = None
) -> Organisation:
    """The village, if the principal may see its points (members, and staff above it) and,
    with `perm`, also holds that permission over it. Missing and forbidden look the same."""
    village = village_for_the_public(session, organisation_id)
    if perm is not None:
        if not can(session, principal, perm, village):
            raise NotFound()
        return village
    if principal.is_platform_admin or (
        (principal.scope_allows(READ_SCOPE) or principal.scope_allows(PointsPerm.VIEW))
        and (
            is_member(session, principal.person_id, village.id)
            or can(session, principal, PointsPerm.VIEW, village)
        )
    ):
        return village
    raise NotFound()


def villages_of(session: Session, principal: Principal) -> list[Organisation]:
    """Villages with a points scheme that the principal belongs to or oversees."""
    query = (
        select(Organisation)
        .join(RuleCatalogue, RuleCatalogue.organisation_id == Organisation.id)
        .options(joinedload(Organisation.region))
        .order_by(Organisation.name)
    )
    if principal.is_platform_admin:
        return list(session.scalars(query))
    found = []
    for village in session.scalars(query):
        if is_member(session, principal.person_id, village.id) or can(
            session, principal, PointsPerm.VIEW, village
        ):
            found.append(village)
    return found
