"""Who sees an incident and who runs it; every look at one is written to the audit chain."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core import audit, organisations
from gongchuang.core.errors import NotFound
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.emergency.models import Incident
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.service._common import _centre_organisation_id


def _sees_organisation(session: Session, actor: Principal, organisation_id: int) -> bool:
    organisation = organisations.get_organisation(session, organisation_id)
    return any(
        has_permission(session, actor, perm, organisation)
        for perm in (EmergencyPerm.DISPATCH, EmergencyPerm.VENUE, EmergencyPerm.OVERSEE)
    )


def can_view(
    session: Session,
    actor: Principal,
    incident: Incident,
    decided: dict[int, bool] | None = None,
) -> bool:
    """The reporter, and staff of the venue or 120 centre it belongs to (or departments above
    them). `decided` remembers each organisation's answer across a list of incidents."""
    if actor.person_id is not None and actor.person_id == incident.reporter_person_id:
        return True
    if actor.is_platform_admin and actor.scope_allows(EmergencyPerm.OVERSEE):
        return True
    decided = {} if decided is None else decided
    owners = {incident.organisation_id, _centre_organisation_id(session, incident)}
    for organisation_id in sorted(o for o in owners if o is not None):
        if organisation_id not in decided:
            decided[organisation_id] = _sees_organisation(session, actor, organisation_id)
        if decided[organisation_id]:
            return True
    return False


def can_dispatch(session: Session, actor: Principal, incident: Incident) -> bool:
    """Who runs the incident: the centre's dispatchers, or the venue that raised it."""
    for organisation_id, perm in (
        (
            incident.organisation_id,
            EmergencyPerm.VENUE if incident.source == "venue" else EmergencyPerm.DISPATCH,
        ),
        (_centre_organisation_id(session, incident), EmergencyPerm.DISPATCH),
    ):
        if organisation_id is not None and has_permission(
            session, actor, perm, organisations.get_organisation(session, organisation_id)
        ):
            return True
    return actor.is_platform_admin and actor.scope_allows(EmergencyPerm.DISPATCH)


def get_incident_for(
    session: Session,
    actor: Principal,
    incident_id: int,
    *,
    dispatch: bool = False,
    record: bool = True,
) -> Incident:
    """Fetch and check; every look at an incident is written to the audit chain."""
    incident = session.get(Incident, incident_id)
    if incident is None or not can_view(session, actor, incident):
        raise NotFound()
    if dispatch and not can_dispatch(session, actor, incident):
        raise NotFound()
    if record:
        audit.record(session, actor, "emergency.incident.view", "emergency_incident", incident.id)
    return incident
