"""Getting the harvest to the adopter: the shipping address (kept only with consent, only for
delivery, only where the farm's courier goes), the courier's batch sheet, shipment, pickup and
the adopter's confirmation (or the system's, 14 days after shipping)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    AdoptionOrder,
    DeliveryMethod,
    HarvestShare,
    OrderStatus,
)
from gongchuang.adoption.schemas import AddressIn, ShipmentIn
from gongchuang.adoption.service._common import (
    farm_of,
    move,
    offering_of,
    offering_to_manage,
    order_to_manage,
    own_order,
)
from gongchuang.core import audit, notifications, people
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.identity import is_valid_phone, normalise_phone
from gongchuang.core.models import Person, Region
from gongchuang.core.permissions import Principal

DELIVERY_PURPOSE = "adoption.delivery"
CONSENT_PURPOSES = {
    DELIVERY_PURPOSE: N_("Keep my shipping address to send me the harvest of my adoptions"),
}
AUTO_CONFIRM_AFTER = timedelta(days=14)


def set_address(session: Session, actor: Principal, code: str, command: AddressIn) -> AdoptionOrder:
    order = own_order(session, actor, code)
    if order.delivery_method != DeliveryMethod.courier:
        raise Conflict(N_("This adoption's harvest is collected at the village"))
    if order.status not in (OrderStatus.pending, OrderStatus.allocated, OrderStatus.harvested):
        raise Conflict(N_("The address can no longer be changed: the harvest has left"))
    phone = normalise_phone(command.recipient_phone)
    if not is_valid_phone(phone):
        raise InvalidInput(
            N_("Please give a mobile number of 11 digits"),
            errors=[{"field": "recipient_phone", "message": N_("not a mobile number")}],
        )
    region = session.get(Region, command.region_id)
    if region is None:
        raise InvalidInput(
            N_("No such region"), errors=[{"field": "region_id", "message": N_("no such region")}]
        )
    farm = farm_of(session, offering_of(session, order))
    served = session.scalars(select(Region.path).where(Region.id.in_(farm.service_region_ids)))
    if not any(region.path.startswith(path) for path in served):
        raise InvalidInput(
            N_("The farm's courier does not deliver to %(region)s"),
            region=region.name,
            errors=[{"field": "region_id", "message": N_("outside the delivery area")}],
        )
    person = session.get(Person, actor.person_id)
    if person is None:
        raise LookupError("the adopter")
    if not people.has_consent(session, person.id, DELIVERY_PURPOSE):
        people.set_consent(session, actor, person, DELIVERY_PURPOSE, True)
    order.recipient_name = command.recipient_name
    order.recipient_phone = phone
    order.address_region_id = region.id
    order.address_line = command.address_line
    audit.record(
        session,
        actor,
        "adoption.order.address",
        "adoption_order",
        order.id,
        after={"region_id": region.id},  # the address itself stays out of the ledger
    )
    return order


def forget_address(session: Session, actor: Principal, code: str) -> AdoptionOrder:
    """The adopter takes the address back (PIPL): erased from the order at once."""
    order = own_order(session, actor, code)
    order.recipient_name = order.recipient_phone = order.address_line = ""
    order.address_region_id = None
    audit.record(session, actor, "adoption.order.address_erased", "adoption_order", order.id)
    return order


COURIER_HEADER = [
    N_("Order"),
    N_("Recipient"),
    N_("Phone"),
    N_("Region"),
    N_("Address"),
    N_("Weight (kg)"),
    N_("Goods"),
]


def courier_batch(session: Session, actor: Principal, offering_id: int) -> list[list[object]]:
    """The courier's sheet: harvested courier orders with an address given with consent, not yet
    shipped. It holds phone numbers in full (the courier needs them), so reading it is
    audited."""
    offering = offering_to_manage(session, actor, offering_id)
    rows = session.execute(
        select(AdoptionOrder, HarvestShare.delivered_g, Region.name)
        .join(HarvestShare, HarvestShare.order_id == AdoptionOrder.id)
        .join(Region, Region.id == AdoptionOrder.address_region_id)
        .where(
            AdoptionOrder.offering_id == offering.id,
            AdoptionOrder.status == OrderStatus.harvested,
            AdoptionOrder.delivery_method == DeliveryMethod.courier,
        )
        .order_by(AdoptionOrder.id)
    ).all()
    rows = list(rows)
    # Only addresses still given with consent (PIPL): one withdrawn since is not handed on.
    consenting = people.consenting(
        session, {order.adopter_id for order, _, _ in rows}, DELIVERY_PURPOSE
    )
    sheet = [
        [
            order.code,
            order.recipient_name,
            order.recipient_phone,
            region_name,
            order.address_line,
            round(grams / 1000, 3),
            f"{offering.title} {offering.season}",
        ]
        for order, grams, region_name in rows
        if order.adopter_id in consenting
    ]
    audit.record(
        session,
        actor,
        "adoption.courier_batch.export",
        "adoption_offering",
        offering.id,
        after={"orders": len(sheet)},
    )
    return sheet


def waiting_for_address(session: Session, offering_id: int) -> int:
    return (
        session.scalar(
            select(func.count(AdoptionOrder.id)).where(
                AdoptionOrder.offering_id == offering_id,
                AdoptionOrder.status == OrderStatus.harvested,
                AdoptionOrder.delivery_method == DeliveryMethod.courier,
                AdoptionOrder.address_region_id.is_(None),
            )
        )
        or 0
    )


def ship(session: Session, actor: Principal, code: str, command: ShipmentIn) -> AdoptionOrder:
    order = order_to_manage(session, actor, code)
    if order.status != OrderStatus.harvested:
        raise Conflict(N_("Only a harvested adoption can be shipped"))
    if order.delivery_method == DeliveryMethod.courier and order.address_region_id is None:
        raise Conflict(N_("The adopter has not given an address yet"))
    order.courier = command.courier
    order.tracking_no = command.tracking_no
    order.shipped_at = utcnow()
    move(session, order, OrderStatus.shipped, actor.audit_label, command.tracking_no)
    audit.record(
        session,
        actor,
        "adoption.order.ship",
        "adoption_order",
        order.id,
        after={"courier": command.courier, "tracking_no": command.tracking_no},
    )
    notifications.notify(
        session,
        order.adopter_id,
        kind="adoption.shipped",
        title=N_("Your harvest is on its way: %(courier)s %(tracking)s"),
        params={"courier": command.courier, "tracking": command.tracking_no},
        link=f"/adoption/orders/{order.code}",
    )
    return order


def hand_over(session: Session, actor: Principal, code: str) -> AdoptionOrder:
    """A pickup order collected at the village: delivered, said by the farm."""
    order = order_to_manage(session, actor, code)
    if order.delivery_method != DeliveryMethod.pickup or order.status != OrderStatus.harvested:
        raise Conflict(N_("Only a harvested adoption collected at the village can be handed over"))
    order.delivered_at = utcnow()
    move(session, order, OrderStatus.delivered, actor.audit_label, "pickup")
    audit.record(session, actor, "adoption.order.hand_over", "adoption_order", order.id)
    return order


def confirm_delivery(session: Session, actor: Principal, code: str) -> AdoptionOrder:
    order = own_order(session, actor, code)
    if order.status != OrderStatus.shipped:
        raise Conflict(N_("Only a shipped harvest can be confirmed as received"))
    order.delivered_at = utcnow()
    move(session, order, OrderStatus.delivered, actor.audit_label)
    audit.record(session, actor, "adoption.order.delivered", "adoption_order", order.id)
    return order


def confirm_overdue(session: Session, now_limit: timedelta = AUTO_CONFIRM_AFTER) -> int:
    """Harvests shipped 14 days ago and never confirmed count as received (as on any shop);
    the adopter may still complain within 14 days of that."""
    now = utcnow()
    orders = session.scalars(
        select(AdoptionOrder)
        .where(
            AdoptionOrder.status == OrderStatus.shipped,
            AdoptionOrder.shipped_at < now - now_limit,
        )
        .limit(1000)
        .with_for_update(skip_locked=True)
    ).all()
    for order in orders:
        order.delivered_at = now
        move(session, order, OrderStatus.delivered, "system", "auto")
    return len(orders)
