"""Adopting: a reservation while paying, the payment's callbacks (allocation, refunds), and
cancelling. The payment itself is the core's (gongchuang.core.payments): this module registers
the purpose "adoption.order" and is called back in the provider's notification's transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    HOLDING,
    AdoptionOrder,
    DeliveryMethod,
    LedgerKind,
    Offering,
    OfferingStatus,
    OrderStatus,
    OrderTransition,
    SaleUnit,
    ShareLink,
)
from gongchuang.adoption.schemas import AdoptIn, RefundIn
from gongchuang.adoption.service import stock
from gongchuang.adoption.service._common import (
    farm_of,
    move,
    new_code,
    offering_of,
    order_by_code,
    order_to_manage,
    own_order,
    public_offering,
)
from gongchuang.adoption.service.ledger import write_entry
from gongchuang.adoption.service.progress import announce_progress
from gongchuang.core import audit, events, notifications, payments
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, said
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment, PaymentRefund, PaymentStatus
from gongchuang.core.permissions import Principal
from gongchuang.topics.adoption import AdoptionAllocated

PURPOSE = "adoption.order"
UNIT_WORDS = {SaleUnit.square_metre: N_("m²"), SaleUnit.plot: N_("plots")}


def order_href(code: str) -> str:
    return f"/adoption/orders/{code}"


def _check_units(offering: Offering, units: int) -> None:
    unit = said(UNIT_WORDS[SaleUnit(offering.sale_unit)])
    if units < offering.min_units:
        raise InvalidInput(
            N_("At least %(n)s %(unit)s per adoption"),
            n=offering.min_units,
            unit=unit,
            errors=[{"field": "units", "message": N_("fewer than the least per adoption")}],
        )
    if units > offering.max_units:
        raise InvalidInput(
            N_("At most %(n)s %(unit)s per adoption"),
            n=offering.max_units,
            unit=unit,
            errors=[{"field": "units", "message": N_("more than the most per adoption")}],
        )


def _not_enough(offering: Offering) -> Conflict:
    return Conflict(
        N_("Only %(left)s %(unit)s are left: please adopt fewer"),
        left=stock.left(offering),
        unit=said(UNIT_WORDS[SaleUnit(offering.sale_unit)]),
        errors=[{"field": "units", "message": N_("more than is left")}],
    )


def _share_link(
    session: Session, offering: Offering, via: str | None, adopter_id: int
) -> int | None:
    if not via:
        return None
    link = session.scalar(
        select(ShareLink).where(ShareLink.code == via, ShareLink.offering_id == offering.id)
    )
    # An adopter's own link does not count: attribution is for bringing others.
    if link is None or link.owner_id == adopter_id:
        return None
    return link.id


def adopt(session: Session, actor: Principal, offering_id: int, command: AdoptIn) -> AdoptionOrder:
    """Reserve the units and start the payment. Nothing is held if anything is refused."""
    if actor.person_id is None:
        raise LookupError("adopt needs a person")
    offering = public_offering(session, offering_id)
    if offering.status != OfferingStatus.open:
        raise Conflict(N_("This season is not open for adoption"))
    _check_units(offering, command.units)
    farm = farm_of(session, offering)
    if command.delivery_method == DeliveryMethod.courier and not farm.offers_courier:
        raise InvalidInput(
            N_("This farm does not send the harvest by courier: please choose pickup"),
            errors=[{"field": "delivery_method", "message": N_("not offered by this farm")}],
        )
    if command.delivery_method == DeliveryMethod.pickup and not farm.offers_pickup:
        raise InvalidInput(
            N_("This farm does not offer pickup: please choose the courier"),
            errors=[{"field": "delivery_method", "message": N_("not offered by this farm")}],
        )
    now = utcnow()
    until = now + timedelta(minutes=offering.reservation_minutes)
    order = AdoptionOrder(
        code=new_code("RY"),
        offering_id=offering.id,
        adopter_id=actor.person_id,
        units=command.units,
        amount_fen=command.units * offering.price_fen,
        status=OrderStatus.pending,
        holds_reservation=True,
        reserved_until=until,
        delivery_method=command.delivery_method,
        share_link_id=_share_link(session, offering, command.via, actor.person_id),
        created_at=now,
    )
    _insert_pending(session, order)
    payment = payments.start_payment(
        session,
        purpose=PURPOSE,
        reference=order.code,
        payer_id=actor.person_id,
        amount_fen=order.amount_fen,
        description=f"{offering.title} {offering.season}"[:127],
        expires_at=until,
    )
    order.payment_id = payment.id
    session.add(
        OrderTransition(
            order_id=order.id,
            from_status="",
            to_status=OrderStatus.pending,
            actor=actor.audit_label,
        )
    )
    session.flush()
    # Last, so that the offering's row is locked only from here to the commit.
    reserved = stock.take_reservation(session, offering.id, command.units) or (
        stock.release_expired(session, offering.id) > 0
        and stock.take_reservation(session, offering.id, command.units)
    )
    if not reserved:
        session.refresh(offering)
        if offering.status != OfferingStatus.open:
            raise Conflict(N_("This season is not open for adoption"))
        raise _not_enough(offering)
    return order


def _insert_pending(session: Session, order: AdoptionOrder) -> None:
    """One unpaid order per person and season (a unique index): an earlier one past its time
    is released first; one still running is the one to pay."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
            return
        except IntegrityError:
            if attempt == 1 and stock.release_expired(session, order.offering_id):
                continue
            raise Conflict(
                N_(
                    "You already have an adoption of this season waiting for payment: pay or "
                    "cancel it first"
                ),
                href=order_href(_pending_code(session, order)),
            ) from None


def _pending_code(session: Session, order: AdoptionOrder) -> str:
    return (
        session.scalar(
            select(AdoptionOrder.code).where(
                AdoptionOrder.offering_id == order.offering_id,
                AdoptionOrder.adopter_id == order.adopter_id,
                AdoptionOrder.status == OrderStatus.pending,
            )
        )
        or ""
    )


def cancel(session: Session, actor: Principal, code: str) -> AdoptionOrder:
    """The adopter gives up an unpaid adoption: its units go back at once."""
    order = own_order(session, actor, code)
    if order.status != OrderStatus.pending:
        raise Conflict(N_("Only an adoption waiting for payment can be cancelled"))
    # The payment first (refused if it was paid meanwhile), then the order and the season's
    # row: the order a payment's notification locks them in.
    payment = payments.payment_of(session, order.payment_id)
    if payment is not None:
        payments.close_payment(session, payment)
    if not stock.give_back_reservation(session, order):
        raise Conflict(N_("This adoption's reservation has already expired"))
    move(session, order, OrderStatus.cancelled, actor.audit_label)
    return order


def checkout(session: Session, actor: Principal, code: str) -> str:
    """Where the adopter pays an order still waiting for it."""
    order = own_order(session, actor, code)
    if order.status != OrderStatus.pending or order.reserved_until <= utcnow():
        raise Conflict(
            N_(
                "This adoption can no longer be paid: its reservation has expired. Please "
                "adopt again"
            )
        )
    payment = payments.payment_of(session, order.payment_id)
    if payment is None:
        raise LookupError(f"payment of order {order.id}")
    return payments.checkout_href(payment)


# --- the payment's callbacks ------------------------------------------------------------------


def on_paid(session: Session, payment: Payment) -> None:
    """The money arrived: allocate the units (from the reservation, or from what is left if it
    lapsed); if none are left, give the money back in full."""
    order = order_by_code(session, payment.reference)
    offering = offering_of(session, order)
    if order.status not in (OrderStatus.pending, OrderStatus.expired, OrderStatus.cancelled):
        # The order is paid already: this is a second payment for it. It is received, written
        # in the ledger, and given back.
        _write_income(session, offering, order, payment)
        payments.refund(
            session,
            payment,
            amount_fen=payment.amount_fen,
            reason="adoption paid twice",
            requested_by=None,
        )
        return
    _write_income(session, offering, order, payment)
    if order.payment_id != payment.id:
        order.payment_id = payment.id
    move(session, order, OrderStatus.paid, "payment", payment.out_trade_no)
    held = stock.convert_reservation(session, order) or stock.take_allocation(
        session, offering.id, order.units
    )
    if not held and stock.release_expired(session, offering.id):
        held = stock.take_allocation(session, offering.id, order.units)
    if held:
        session.refresh(offering)
        if offering.status == OfferingStatus.harvested:
            # Paid after the harvest was shared out: there is no crop left for it.
            stock.give_back_allocation(session, offering.id, order.units)
            held = False
    if not held:
        payments.refund(
            session,
            payment,
            amount_fen=payment.amount_fen,
            reason="adoption sold out before payment",
            requested_by=None,
        )
        return
    _allocated(session, order, offering)


def _write_income(
    session: Session, offering: Offering, order: AdoptionOrder, payment: Payment
) -> None:
    write_entry(
        session,
        farm_id=offering.farm_id,
        offering_id=offering.id,
        kind=LedgerKind.income,
        amount_fen=payment.amount_fen,
        memo=order.code,
        order_id=order.id,
        source=f"payment:{payment.id}",
        recorded_by="system",
    )


def _allocated(session: Session, order: AdoptionOrder, offering: Offering) -> None:
    now = utcnow()
    session.refresh(offering)
    if offering.sale_unit == SaleUnit.plot:
        order.plot_numbers = _free_plots(session, offering, order.units)
    order.allocated_at = now
    move(session, order, OrderStatus.allocated, "system")
    if offering.first_adopted_at is None:
        offering.first_adopted_at = now
    events.publish(
        session,
        AdoptionAllocated(
            organisation_id=offering.organisation_id,
            offering_id=offering.id,
            order_code=order.code,
            units=order.units,
            amount_fen=order.amount_fen,
        ),
    )
    notifications.notify(
        session,
        order.adopter_id,
        kind="adoption.allocated",
        title=N_("Your adoption %(code)s is confirmed"),
        params={"code": order.code},
        link=order_href(order.code),
    )
    announce_progress(session, offering)


def _free_plots(session: Session, offering: Offering, count: int) -> list[int]:
    """The lowest plot numbers nobody holds. Runs while this transaction holds the offering's
    row lock (taken by the allocation), so two payments never get the same plot."""
    taken: set[int] = set()
    for numbers in session.scalars(
        select(AdoptionOrder.plot_numbers).where(
            AdoptionOrder.offering_id == offering.id,
            AdoptionOrder.status.in_([s.value for s in HOLDING]),
        )
    ):
        taken.update(numbers or [])
    free = [n for n in range(1, offering.total_units + 1) if n not in taken]
    return free[:count]


def on_refunded(session: Session, payment: Payment, refund: PaymentRefund) -> None:
    order = order_by_code(session, payment.reference)
    offering = offering_of(session, order)
    write_entry(
        session,
        farm_id=offering.farm_id,
        offering_id=offering.id,
        kind=LedgerKind.refund,
        amount_fen=-refund.amount_fen,
        memo=order.code,
        order_id=order.id,
        source=f"refund:{refund.id}",
        recorded_by="system",
    )
    if payment.id != order.payment_id or payment.refunded_fen < payment.amount_fen:
        return  # a partial refund (compensation), or a stray second payment given back
    held_units = order.status == OrderStatus.allocated
    move(session, order, OrderStatus.refunded, "payment", refund.out_refund_no)
    if held_units:
        # Refunded before the harvest: the units are on offer again.
        stock.give_back_allocation(session, offering.id, order.units)
        order.plot_numbers = []
        announce_progress(session, offering)


def return_href(payment: Payment) -> str:
    return order_href(payment.reference)


def refund_order(session: Session, actor: Principal, code: str, command: RefundIn) -> PaymentRefund:
    """The farm gives money back (all of it, or part as compensation)."""
    order = order_to_manage(session, actor, code)
    payment = payments.payment_of(session, order.payment_id)
    if payment is None or payment.status != PaymentStatus.paid:
        raise Conflict(N_("This adoption has no payment to refund"))
    refund = payments.refund(
        session,
        payment,
        amount_fen=command.amount_fen,
        reason=command.reason,
        requested_by=actor.person_id,
    )
    audit.record(
        session,
        actor,
        "adoption.order.refund",
        "adoption_order",
        order.id,
        after={"amount_fen": command.amount_fen, "reason": command.reason},
    )
    return refund


def refunded_fen(session: Session, order: AdoptionOrder) -> int:
    payment = payments.payment_of(session, order.payment_id)
    return payment.refunded_fen if payment else 0
