"""Villages and cooperatives putting farms, fields and seasons online."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    OFFERING_STATUS_LABELS,
    Farm,
    Field,
    Offering,
    OfferingStatus,
    SaleUnit,
)
from gongchuang.adoption.permissions import AdoptionPerm
from gongchuang.adoption.schemas import FarmIn, FieldIn, OfferingIn, OfferingStatusIn
from gongchuang.adoption.service._common import farm_to_manage, field_to_manage, offering_to_manage
from gongchuang.core import audit, organisations
from gongchuang.core.audit import snapshot
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, refuse_if_any, said
from gongchuang.core.i18n import N_
from gongchuang.core.models import Region
from gongchuang.core.permissions import Principal

OFFERING_AUDIT_FIELDS = (
    "title",
    "season",
    "sale_unit",
    "unit_area_m2",
    "price_fen",
    "total_units",
    "min_units",
    "max_units",
    "guaranteed_g_per_unit",
    "status",
)


def _check_regions(session: Session, command: FarmIn) -> None:
    wanted = {command.region_id, *command.service_region_ids}
    found = set(session.scalars(select(Region.id).where(Region.id.in_(wanted))))
    errors: list[dict[str, object]] = []
    if command.region_id not in found:
        errors.append({"field": "region_id", "message": N_("no such region")})
    if set(command.service_region_ids) - found:
        errors.append({"field": "service_region_ids", "message": N_("no such region")})
    if not (command.offers_pickup or command.offers_courier):
        errors.append(
            {"field": "offers_pickup", "message": N_("offer pickup, the courier or both")}
        )
    if command.offers_courier and not command.service_region_ids:
        errors.append(
            {"field": "service_region_ids", "message": N_("name where the courier delivers")}
        )
    refuse_if_any(errors)


def create_farm(session: Session, actor: Principal, organisation_id: int, command: FarmIn) -> Farm:
    organisation = organisations.get_organisation_for(
        session, actor, organisation_id, AdoptionPerm.MANAGE
    )
    _check_regions(session, command)
    farm = Farm(organisation_id=organisation.id, **command.model_dump())
    session.add(farm)
    session.flush()
    audit.record(
        session, actor, "adoption.farm.create", "adoption_farm", farm.id, after=command.model_dump()
    )
    return farm


def update_farm(session: Session, actor: Principal, farm_id: int, command: FarmIn) -> Farm:
    farm = farm_to_manage(session, actor, farm_id)
    _check_regions(session, command)
    fields = list(command.model_dump())
    before = snapshot(farm, fields)
    for key, value in command.model_dump().items():
        setattr(farm, key, value)
    audit.record(
        session,
        actor,
        "adoption.farm.update",
        "adoption_farm",
        farm.id,
        before=before,
        after=snapshot(farm, fields),
    )
    return farm


def add_field(session: Session, actor: Principal, farm_id: int, command: FieldIn) -> Field:
    farm = farm_to_manage(session, actor, farm_id)
    field = Field(farm_id=farm.id, **command.model_dump())
    session.add(field)
    session.flush()
    audit.record(
        session,
        actor,
        "adoption.field.create",
        "adoption_field",
        field.id,
        after=command.model_dump(),
    )
    return field


def _check_offering(field: Field, command: OfferingIn) -> None:
    errors: list[dict[str, object]] = []
    if command.sale_unit == SaleUnit.square_metre and command.unit_area_m2 != 1:
        errors.append({"field": "unit_area_m2", "message": N_("1 when sold by the square metre")})
    if command.total_units * command.unit_area_m2 > field.area_m2:
        errors.append({"field": "total_units", "message": N_("more than the field's area")})
    if command.min_units > command.max_units:
        errors.append({"field": "min_units", "message": N_("more than the most per adoption")})
    if command.min_units > command.total_units:
        errors.append({"field": "min_units", "message": N_("more than there is to adopt")})
    refuse_if_any(errors)


def create_offering(
    session: Session, actor: Principal, field_id: int, command: OfferingIn
) -> Offering:
    """A season of the field, as a draft: the farm checks it, then opens it."""
    field = field_to_manage(session, actor, field_id)
    farm = session.get(Farm, field.farm_id)
    if farm is None:
        raise LookupError(f"farm of field {field.id}")
    _check_offering(field, command)
    offering = Offering(
        field_id=field.id,
        farm_id=farm.id,
        organisation_id=farm.organisation_id,
        status=OfferingStatus.draft,
        **command.model_dump(),
    )
    session.add(offering)
    session.flush()
    audit.record(
        session,
        actor,
        "adoption.offering.create",
        "adoption_offering",
        offering.id,
        after=snapshot(offering, OFFERING_AUDIT_FIELDS),
    )
    return offering


def update_offering(
    session: Session, actor: Principal, offering_id: int, command: OfferingIn
) -> Offering:
    """Terms change only while nobody has adopted yet: afterwards they are a contract."""
    offering = offering_to_manage(session, actor, offering_id)
    field = session.get(Field, offering.field_id)
    if field is None:
        raise LookupError(f"field of offering {offering.id}")
    _check_offering(field, command)
    before = snapshot(offering, OFFERING_AUDIT_FIELDS)
    # Conditional: an adoption arriving at the same moment keeps the terms it saw.
    changed = session.execute(
        update(Offering)
        .where(
            Offering.id == offering.id,
            Offering.allocated_units == 0,
            Offering.reserved_units == 0,
        )
        .values(**command.model_dump())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("People have already adopted from this season: its terms are fixed"))
    session.refresh(offering)
    audit.record(
        session,
        actor,
        "adoption.offering.update",
        "adoption_offering",
        offering.id,
        before=before,
        after=snapshot(offering, OFFERING_AUDIT_FIELDS),
    )
    return offering


def set_offering_status(
    session: Session, actor: Principal, offering_id: int, command: OfferingStatusIn
) -> Offering:
    offering = offering_to_manage(session, actor, offering_id)
    allowed = {
        OfferingStatus.open: {OfferingStatus.draft, OfferingStatus.closed},
        OfferingStatus.closed: {OfferingStatus.open},
    }[OfferingStatus(command.status)]
    if offering.status not in allowed:
        raise InvalidInput(
            N_("A season that is “%(status)s” cannot be changed to that"),
            status=said(OFFERING_STATUS_LABELS[offering.status]),
            errors=[{"field": "status", "message": N_("not from this status")}],
        )
    before = offering.status
    offering.status = command.status
    if command.status == OfferingStatus.open and offering.opened_at is None:
        offering.opened_at = utcnow()
    audit.record(
        session,
        actor,
        "adoption.offering.status",
        "adoption_offering",
        offering.id,
        before={"status": before},
        after={"status": offering.status},
    )
    return offering
