"""Stock of an offering: reservations while paying, allocations once paid, and the release of
reservations nobody paid.

Every counter moves by one conditional UPDATE whose WHERE clause is the rule (enough left, the
reservation still held), so the row is read and written in one statement: on PostgreSQL the
row's lock is held only from that statement to the commit, which is why the adoption's other
rows are written before it. The CHECK constraint on the table is the last line."""

from __future__ import annotations

from collections import defaultdict
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gongchuang.adoption.models import (
    AdoptionOrder,
    Offering,
    OfferingStatus,
    OrderStatus,
    OrderTransition,
)
from gongchuang.core import payments
from gongchuang.core.clock import utcnow

SYSTEM_ACTOR = "system"
# The tables themselves: these statements bypass the ORM's unit of work on purpose.
OFFERINGS = cast(Table, Offering.__table__)
ORDERS = cast(Table, AdoptionOrder.__table__)
TRANSITIONS_TABLE = cast(Table, OrderTransition.__table__)


def left(offering: Offering) -> int:
    return max(0, offering.total_units - offering.allocated_units - offering.reserved_units)


def take_reservation(session: Session, offering_id: int, units: int) -> bool:
    """Hold `units` for a buyer while they pay, if that many are left and the season is open."""
    table = OFFERINGS
    row = session.execute(
        update(table)
        .where(
            table.c.id == offering_id,
            table.c.status == OfferingStatus.open.value,
            table.c.allocated_units + table.c.reserved_units + units <= table.c.total_units,
        )
        .values(reserved_units=table.c.reserved_units + units)
        .returning(table.c.id)
    ).first()
    return row is not None


def _claim_reservation(session: Session, order: AdoptionOrder) -> bool:
    """Take the order's reservation away from it, once whoever asks (a payment, a cancel, the
    expiry): the conditional UPDATE lets one of them have it."""
    session.flush()  # the statements below are the table's, not the ORM's: no autoflush
    claimed = session.execute(
        update(ORDERS)
        .where(ORDERS.c.id == order.id, ORDERS.c.holds_reservation.is_(True))
        .values(holds_reservation=False)
        .returning(ORDERS.c.id)
    ).first()
    if claimed is not None:
        set_committed_value(order, "holds_reservation", False)
    return claimed is not None


def convert_reservation(session: Session, order: AdoptionOrder) -> bool:
    """Turn the order's reservation into an allocation, if it still holds one (it may have been
    released as expired an instant before: then this answers False and changes nothing)."""
    if not _claim_reservation(session, order):
        return False
    session.execute(
        update(OFFERINGS)
        .where(OFFERINGS.c.id == order.offering_id)
        .values(
            reserved_units=OFFERINGS.c.reserved_units - order.units,
            allocated_units=OFFERINGS.c.allocated_units + order.units,
        )
    )
    return True


def take_allocation(session: Session, offering_id: int, units: int) -> bool:
    """Allocate units straight from what is left: for money that arrived after the buyer's
    reservation lapsed (the season may have closed since: the buyer reserved while it was
    open)."""
    table = OFFERINGS
    row = session.execute(
        update(table)
        .where(
            table.c.id == offering_id,
            table.c.allocated_units + table.c.reserved_units + units <= table.c.total_units,
        )
        .values(allocated_units=table.c.allocated_units + units)
        .returning(table.c.id)
    ).first()
    return row is not None


def give_back_allocation(session: Session, offering_id: int, units: int) -> None:
    table = OFFERINGS
    session.execute(
        update(table)
        .where(table.c.id == offering_id)
        .values(allocated_units=table.c.allocated_units - units)
    )


def give_back_reservation(session: Session, order: AdoptionOrder) -> bool:
    """Release the order's reservation (the buyer cancelled): once, whoever asks."""
    if not _claim_reservation(session, order):
        return False
    session.execute(
        update(OFFERINGS)
        .where(OFFERINGS.c.id == order.offering_id)
        .values(reserved_units=OFFERINGS.c.reserved_units - order.units)
    )
    return True


def release_expired(session: Session, offering_id: int | None = None, limit: int = 1000) -> int:
    """Release reservations past their time (of one offering, or all): each order is claimed by
    one conditional UPDATE, so two releasers (a buyer who needs the units, the job) never give
    the same units back twice. Their payments are closed. Answers the units released."""
    session.flush()  # before expire_all() below, which would drop unflushed changes
    orders = ORDERS
    now = utcnow()
    due = select(orders.c.id).where(
        orders.c.status == OrderStatus.pending.value,
        orders.c.holds_reservation.is_(True),
        orders.c.reserved_until < now,
    )
    if offering_id is not None:
        due = due.where(orders.c.offering_id == offering_id)
    due_rows = session.execute(
        due.add_columns(orders.c.payment_id).order_by(orders.c.id).limit(limit)
    ).all()
    if not due_rows:
        return 0
    # Payments first, orders second, the season's row last: the order a payment's notification
    # takes them in (payment row, then its order, then the season), so the two never wait for
    # each other in a circle. A payment that was paid meanwhile is not closed, and its order is
    # left to the payment's callback.
    closed = payments.close_payments(session, [r.payment_id for r in due_rows if r.payment_id])
    ids = [r.id for r in due_rows if r.payment_id is None or r.payment_id in closed]
    if not ids:
        return 0
    released = session.execute(
        update(orders)
        .where(
            orders.c.id.in_(ids),
            orders.c.status == OrderStatus.pending.value,
            orders.c.holds_reservation.is_(True),
        )
        .values(status=OrderStatus.expired.value, holds_reservation=False)
        .returning(orders.c.id, orders.c.offering_id, orders.c.units)
    ).all()
    if not released:
        return 0
    per_offering: dict[int, int] = defaultdict(int)
    for row in released:
        per_offering[row.offering_id] += row.units
    table = OFFERINGS
    for oid, units in per_offering.items():
        session.execute(
            update(table)
            .where(table.c.id == oid)
            .values(reserved_units=table.c.reserved_units - units)
        )
    session.execute(
        insert(TRANSITIONS_TABLE),
        [
            {
                "order_id": row.id,
                "from_status": OrderStatus.pending.value,
                "to_status": OrderStatus.expired.value,
                "actor": SYSTEM_ACTOR,
                "note": "",
                "at": now,
            }
            for row in released
        ],
    )
    # The ORM's copies of these orders (if loaded) are stale now.
    session.expire_all()
    return sum(per_offering.values())
