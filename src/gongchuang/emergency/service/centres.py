"""120 dispatch centres: their intake settings and signing secret, and the area each covers."""

from __future__ import annotations

import math
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, geo, organisations
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.emergency.models import DispatchCentre
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import CentreIn
from gongchuang.emergency.service._common import to_wgs84


def centre_of(session: Session, organisation: Organisation) -> DispatchCentre | None:
    return session.scalar(
        select(DispatchCentre).where(DispatchCentre.organisation_id == organisation.id)
    )


def save_centre(
    session: Session, actor: Principal, organisation: Organisation, data: CentreIn
) -> tuple[DispatchCentre, str | None]:
    """Create or change the organisation's centre. Returns the secret when newly made."""
    if not has_permission(session, actor, EmergencyPerm.DISPATCH, organisation):
        raise NotFound()
    lat, lng = to_wgs84(data.lat, data.lng, data.crs)
    centre = centre_of(session, organisation)
    clash = session.scalar(select(DispatchCentre.id).where(DispatchCentre.code == data.code))
    if clash is not None and (centre is None or clash != centre.id):
        raise InvalidInput(
            N_("This centre code is taken"),
            errors=[{"field": "code", "message": N_("already in use")}],
        )
    secret = None
    if centre is None:
        secret = secrets.token_hex(32)
        centre = DispatchCentre(organisation_id=organisation.id, secret=secret)
        session.add(centre)
    centre.code, centre.name = data.code, data.name
    centre.auto_codes = sorted({c.strip().upper() for c in data.auto_codes if c.strip()})
    centre.lat, centre.lng, centre.service_radius_km = lat, lng, data.service_radius_km
    session.flush()
    audit.record(
        session,
        actor,
        "emergency.centre.save",
        "emergency_dispatch_centre",
        centre.id,
        after={"code": centre.code, "auto_codes": centre.auto_codes},
    )
    return centre, secret


def rotate_secret(session: Session, actor: Principal, centre: DispatchCentre) -> str:
    organisation = organisations.get_organisation(session, centre.organisation_id)
    if not has_permission(session, actor, EmergencyPerm.DISPATCH, organisation):
        raise NotFound()
    centre.secret = secrets.token_hex(32)
    audit.record(
        session, actor, "emergency.centre.rotate_secret", "emergency_dispatch_centre", centre.id
    )
    return centre.secret


def rotate_centre_secret(
    session: Session, actor: Principal, organisation: Organisation
) -> tuple[DispatchCentre, str]:
    """A new signing secret for the organisation's centre (shown once)."""
    centre = centre_of(session, organisation)
    if centre is None:
        raise NotFound()
    return centre, rotate_secret(session, actor, centre)


def _covering_centre(session: Session, lat: float, lng: float) -> DispatchCentre | None:
    centres = list(session.scalars(select(DispatchCentre).where(DispatchCentre.active.is_(True))))
    best, best_distance = None, math.inf
    for centre in centres:
        distance = geo.haversine_m(geo.Point(lat, lng), geo.Point(centre.lat, centre.lng))
        if distance <= centre.service_radius_km * 1000 and distance < best_distance:
            best, best_distance = centre, distance
    return best
