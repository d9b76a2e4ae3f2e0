"""What the adoption rules share: fetch-and-check helpers (the same NotFound for what is missing
and what is not the caller's), the order's state machine, and codes."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    ORDER_STATUS_LABELS,
    AdoptionOrder,
    Farm,
    Field,
    Offering,
    OfferingStatus,
    OrderStatus,
    OrderTransition,
)
from gongchuang.adoption.permissions import AdoptionPerm
from gongchuang.core import organisations
from gongchuang.core.errors import Conflict, NotFound, said
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal, has_permission

# The order's state machine: pending → paid → allocated → harvested → shipped → delivered, and
# refunded from anywhere money was paid. Every move goes through `move()`.
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.pending: frozenset({OrderStatus.paid, OrderStatus.expired, OrderStatus.cancelled}),
    # Money that arrives after the reservation lapsed is still received: the order is then
    # allocated if units are left, refunded otherwise.
    OrderStatus.expired: frozenset({OrderStatus.paid}),
    OrderStatus.cancelled: frozenset({OrderStatus.paid}),
    OrderStatus.paid: frozenset({OrderStatus.allocated, OrderStatus.refunded}),
    OrderStatus.allocated: frozenset({OrderStatus.harvested, OrderStatus.refunded}),
    OrderStatus.harvested: frozenset(
        {OrderStatus.shipped, OrderStatus.delivered, OrderStatus.refunded}
    ),
    OrderStatus.shipped: frozenset({OrderStatus.delivered, OrderStatus.refunded}),
    OrderStatus.delivered: frozenset({OrderStatus.refunded}),
    OrderStatus.refunded: frozenset(),
}

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


def new_code(prefix: str, length: int = 10) -> str:
    """A code read out over the phone: digits first (it reads as a number, in any language),
    then letters and digits."""
    digits = length // 2
    return (
        prefix
        + "".join(secrets.choice("23456789") for _ in range(digits))
        + "".join(secrets.choice(_ALPHABET) for _ in range(length - digits))
    )


def move(
    session: Session, order: AdoptionOrder, to: OrderStatus, actor: str, note: str = ""
) -> None:
    """Change an order's status along the state machine, with its transition recorded."""
    if to not in TRANSITIONS[order.status]:
        raise Conflict(
            N_("This adoption cannot go from “%(before)s” to “%(after)s”"),
            before=said(ORDER_STATUS_LABELS[order.status]),
            after=said(ORDER_STATUS_LABELS[to]),
        )
    session.add(
        OrderTransition(
            order_id=order.id, from_status=order.status, to_status=to.value, actor=actor, note=note
        )
    )
    order.status = to.value


def farm_to_manage(session: Session, actor: Principal, farm_id: int) -> Farm:
    farm = session.get(Farm, farm_id)
    if farm is None:
        raise NotFound()
    organisations.get_organisation_for(session, actor, farm.organisation_id, AdoptionPerm.MANAGE)
    return farm


def field_to_manage(session: Session, actor: Principal, field_id: int) -> Field:
    field = session.get(Field, field_id)
    if field is None:
        raise NotFound()
    farm_to_manage(session, actor, field.farm_id)
    return field


def offering_to_manage(session: Session, actor: Principal, offering_id: int) -> Offering:
    offering = session.get(Offering, offering_id)
    if offering is None:
        raise NotFound()
    organisations.get_organisation_for(
        session, actor, offering.organisation_id, AdoptionPerm.MANAGE
    )
    return offering


def can_manage(session: Session, actor: Principal, offering: Offering) -> bool:
    org = organisations.get_organisation(session, offering.organisation_id)
    return has_permission(session, actor, AdoptionPerm.MANAGE, org)


def public_offering(session: Session, offering_id: int) -> Offering:
    """An offering anyone may see: every status but draft."""
    offering = session.get(Offering, offering_id)
    if offering is None or offering.status == OfferingStatus.draft:
        raise NotFound()
    return offering


def order_by_code(session: Session, code: str) -> AdoptionOrder:
    order = session.scalar(select(AdoptionOrder).where(AdoptionOrder.code == code))
    if order is None:
        raise NotFound()
    return order


def own_order(session: Session, actor: Principal, code: str) -> AdoptionOrder:
    """The adopter's own order (a farm's staff reach it through `order_to_manage`)."""
    order = order_by_code(session, code)
    if actor.person_id is None or order.adopter_id != actor.person_id:
        raise NotFound()
    return order


def order_to_manage(session: Session, actor: Principal, code: str) -> AdoptionOrder:
    order = order_by_code(session, code)
    offering_to_manage(session, actor, order.offering_id)
    return order


def offering_of(session: Session, order: AdoptionOrder) -> Offering:
    offering = session.get(Offering, order.offering_id)
    if offering is None:
        raise LookupError(f"offering {order.offering_id} of order {order.id}")
    return offering


def farm_of(session: Session, offering: Offering) -> Farm:
    farm = session.get(Farm, offering.farm_id)
    if farm is None:
        raise LookupError(f"farm {offering.farm_id} of offering {offering.id}")
    return farm
