"""Read-only queries the pages and the API list from."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    UNDER_WAY,
    AdoptionOrder,
    Complaint,
    Farm,
    Field,
    Offering,
    OfferingStatus,
    OrderTransition,
    ShareLink,
)
from gongchuang.adoption.permissions import AdoptionPerm
from gongchuang.adoption.service._common import can_manage, offering_of
from gongchuang.core import files, organisations
from gongchuang.core.errors import NotFound
from gongchuang.core.models import Organisation, Region, RegionLevel, StoredFile
from gongchuang.core.permissions import Principal

Listed = tuple[Offering, Field, Farm]


def _listed(session: Session, *where: object) -> list[Listed]:
    return [
        (offering, field, farm)
        for offering, field, farm in session.execute(
            select(Offering, Field, Farm)
            .join(Field, Field.id == Offering.field_id)
            .join(Farm, Farm.id == Offering.farm_id)
            .where(*where)  # type: ignore[arg-type]
            .order_by(Offering.id.desc())
        ).all()
    ]


def public_offerings(session: Session) -> list[Listed]:
    """Every season anyone may see, those open for adoption first."""
    listed = _listed(session, Offering.status != OfferingStatus.draft)
    return sorted(listed, key=lambda row: row[0].status != OfferingStatus.open)


def offerings_of_farm(session: Session, farm_id: int) -> list[Listed]:
    return _listed(session, Offering.farm_id == farm_id)


def offering_detail(session: Session, offering: Offering) -> Listed:
    field = session.get(Field, offering.field_id)
    farm = session.get(Farm, offering.farm_id)
    if field is None or farm is None:
        raise LookupError(f"field or farm of offering {offering.id}")
    return offering, field, farm


def farms_of(session: Session, organisation_id: int) -> list[Farm]:
    return list(
        session.scalars(
            select(Farm).where(Farm.organisation_id == organisation_id).order_by(Farm.id)
        )
    )


def fields_of(session: Session, farm_id: int) -> list[Field]:
    return list(session.scalars(select(Field).where(Field.farm_id == farm_id).order_by(Field.id)))


def managed_organisations(session: Session, principal: Principal) -> list[Organisation]:
    return organisations.organisations_with(session, principal, AdoptionPerm.MANAGE)


def orders_of(session: Session, person_id: int) -> list[tuple[AdoptionOrder, Offering]]:
    return [
        (order, offering)
        for order, offering in session.execute(
            select(AdoptionOrder, Offering)
            .join(Offering, Offering.id == AdoptionOrder.offering_id)
            .where(AdoptionOrder.adopter_id == person_id)
            .order_by(AdoptionOrder.id.desc())
            .limit(200)
        ).all()
    ]


def orders_of_offering(
    session: Session, offering_id: int, statuses: list[str] | None = None, limit: int = 500
) -> list[AdoptionOrder]:
    query = select(AdoptionOrder).where(AdoptionOrder.offering_id == offering_id)
    if statuses:
        query = query.where(AdoptionOrder.status.in_(statuses))
    return list(session.scalars(query.order_by(AdoptionOrder.id.desc()).limit(limit)))


def transitions(session: Session, order_id: int) -> list[OrderTransition]:
    return list(
        session.scalars(
            select(OrderTransition)
            .where(OrderTransition.order_id == order_id)
            .order_by(OrderTransition.id)
        )
    )


def share_links_of(session: Session, person_id: int) -> list[tuple[ShareLink, Offering]]:
    return [
        (link, offering)
        for link, offering in session.execute(
            select(ShareLink, Offering)
            .join(Offering, Offering.id == ShareLink.offering_id)
            .where(ShareLink.owner_id == person_id)
            .order_by(ShareLink.id.desc())
        ).all()
    ]


def home_summary(
    session: Session, principal: Principal
) -> list[tuple[AdoptionOrder, Offering]] | None:
    """For a signed-in person's home page: their adoptions still under way (unpaid, growing,
    harvested, on the way), most recent first."""
    if principal.person_id is None:
        return None
    rows = [
        (order, offering)
        for order, offering in session.execute(
            select(AdoptionOrder, Offering)
            .join(Offering, Offering.id == AdoptionOrder.offering_id)
            .where(
                AdoptionOrder.adopter_id == principal.person_id,
                AdoptionOrder.status.in_([s.value for s in UNDER_WAY]),
            )
            .order_by(AdoptionOrder.id.desc())
            .limit(3)
        ).all()
    ]
    return rows or None


def address_regions(session: Session, farm: Farm, limit: int = 1000) -> list[Region]:
    """What an adopter's address form offers: the farm's service regions and the counties and
    towns under them (an address outside them is refused by `set_address` anyway)."""
    served = list(session.scalars(select(Region).where(Region.id.in_(farm.service_region_ids))))
    if not served:
        return []
    under = or_(*(Region.path.startswith(r.path) for r in served))
    return list(
        session.scalars(
            select(Region)
            .where(
                or_(
                    Region.id.in_([r.id for r in served]),
                    and_(under, Region.level.in_([RegionLevel.county, RegionLevel.town])),
                )
            )
            .order_by(Region.code)
            .limit(limit)
        )
    )


def farm_regions(session: Session, organisation: Organisation, limit: int = 500) -> list[Region]:
    """What a new farm's region and service regions are chosen from: the organisation's region,
    the regions above it (a province, a city, a county to deliver to) and those under it."""
    region = session.get(Region, organisation.region_id)
    if region is None:
        return []
    above = [int(part) for part in region.path.strip("/").split("/") if part]
    return list(
        session.scalars(
            select(Region)
            .where(or_(Region.id.in_(above), Region.path.startswith(region.path)))
            .order_by(Region.code)
            .limit(limit)
        )
    )


def complaint_photo(
    session: Session, actor: Principal, complaint_id: int, index: int
) -> tuple[StoredFile, bytes]:
    """A complaint's photo, for the adopter who sent it and the farm that answers it (the same
    404 for anyone else as for a photo that does not exist)."""
    complaint = session.get(Complaint, complaint_id)
    order = session.get(AdoptionOrder, complaint.order_id) if complaint else None
    if complaint is None or order is None or not 0 <= index < len(complaint.photo_file_ids):
        raise NotFound()
    mine = actor.person_id is not None and actor.person_id == order.adopter_id
    if not (mine or can_manage(session, actor, offering_of(session, order))):
        raise NotFound()
    stored = session.get(StoredFile, complaint.photo_file_ids[index])
    if stored is None:
        raise NotFound()
    return stored, files.storage().load(stored.storage_key)
