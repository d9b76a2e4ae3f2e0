"""The matching policy: each region may set its own, inherited by the regions below."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, organisations, regions
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.models import Region
from gongchuang.core.permissions import Principal
from gongchuang.emergency import matching
from gongchuang.emergency.models import MatchingPolicy
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import PolicyIn


def policy_for(session: Session, region_id: int | None) -> tuple[matching.Policy, Region | None]:
    """The policy of the nearest region upwards that has one, else the defaults."""
    if region_id is not None:
        region = session.get(Region, region_id)
        chain = [region, *reversed(regions.ancestors(session, region))] if region else []
        rows = {
            row.region_id: row
            for row in session.scalars(
                select(MatchingPolicy).where(MatchingPolicy.region_id.in_([r.id for r in chain]))
            )
        }
        for item in chain:
            row = rows.get(item.id)
            if row is not None:
                values = {name: getattr(row, name) for name in matching.POLICY_FIELDS}
                return matching.Policy(**values), item
    return matching.Policy(), None


def can_oversee_region(session: Session, actor: Principal, region: Region) -> bool:
    if actor.is_platform_admin and actor.scope_allows(EmergencyPerm.OVERSEE):
        return True
    chain = {r.id for r in regions.ancestors(session, region)} | {region.id}
    return any(
        o.region_id in chain
        for o in organisations.organisations_with(session, actor, EmergencyPerm.OVERSEE)
    )


def set_policy(session: Session, actor: Principal, region: Region, values: PolicyIn) -> None:
    if not can_oversee_region(session, actor, region):
        raise NotFound()
    row = session.scalar(select(MatchingPolicy).where(MatchingPolicy.region_id == region.id))
    before = {n: getattr(row, n) for n in matching.POLICY_FIELDS} if row else None
    if row is None:
        row = MatchingPolicy(region_id=region.id)
        session.add(row)
    for name in matching.POLICY_FIELDS:
        setattr(row, name, getattr(values, name))
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "emergency.policy.set",
        "region",
        region.id,
        before=before,
        after=values.model_dump(),
    )
