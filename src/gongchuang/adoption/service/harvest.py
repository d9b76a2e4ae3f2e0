"""The harvest: the yield recorded, shared out to adopters pro rata with the guaranteed
minimum, and the shortfall made up by the village or credited back to the adopter."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    AdoptionOrder,
    Harvest,
    HarvestShare,
    Offering,
    OfferingStatus,
    OrderStatus,
    ShortfallRemedy,
)
from gongchuang.adoption.schemas import HarvestIn
from gongchuang.adoption.service._common import move, offering_to_manage
from gongchuang.core import audit, events, notifications, payments
from gongchuang.core.errors import Conflict
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.topics.adoption import HarvestRecorded


def share_out(total_g: int, units: Sequence[tuple[int, int]]) -> dict[int, int]:
    """`total_g` shared over (key, units) pro rata, in whole grams that add up to `total_g`
    exactly: each gets the floor of its share, and the grams left over go one each to the
    largest remainders (the earlier key first on a tie)."""
    whole = sum(u for _, u in units)
    if whole == 0:
        return {}
    shares = {key: total_g * u // whole for key, u in units}
    left = total_g - sum(shares.values())
    by_remainder = sorted(units, key=lambda ku: (-(total_g * ku[1] % whole), ku[0]))
    for key, _ in by_remainder[:left]:
        shares[key] += 1
    return shares


def record_harvest(
    session: Session, actor: Principal, offering_id: int, command: HarvestIn
) -> Harvest:
    offering = offering_to_manage(session, actor, offering_id)
    if actor.person_id is None:
        raise LookupError("a harvest needs a person")
    # Held against a late payment allocating units at this moment: it waits for this
    # transaction and then finds the season harvested (see orders.on_paid).
    session.execute(select(Offering.id).where(Offering.id == offering.id).with_for_update())
    session.refresh(offering)
    if offering.status == OfferingStatus.harvested:
        raise Conflict(N_("This season's harvest is already recorded"))
    if offering.status != OfferingStatus.closed:
        raise Conflict(N_("Close the season to adoption before recording its harvest"))
    waiting = session.scalar(
        select(func.count(AdoptionOrder.id)).where(
            AdoptionOrder.offering_id == offering.id,
            AdoptionOrder.status == OrderStatus.pending,
        )
    )
    if waiting:
        raise Conflict(
            N_(
                "%(n)s adoptions are still waiting for payment: record the harvest when their "
                "reservations have ended"
            ),
            n=waiting,
        )
    total_g = int((command.total_kg * Decimal(1000)).to_integral_value())
    offering.status = OfferingStatus.harvested
    harvest = Harvest(
        offering_id=offering.id,
        total_g=total_g,
        remedy=command.remedy,
        note=command.note,
        recorded_by=actor.person_id,
    )
    session.add(harvest)
    session.flush()
    orders = list(
        session.scalars(
            select(AdoptionOrder)
            .where(
                AdoptionOrder.offering_id == offering.id,
                AdoptionOrder.status == OrderStatus.allocated,
            )
            .order_by(AdoptionOrder.id)
        )
    )
    shares = share_out(total_g, [(o.id, o.units) for o in orders])
    made_up = credited = 0
    for order in orders:
        share = _share(session, offering, harvest, order, shares[order.id], command.remedy)
        made_up += share.made_up_g
        credited += share.credit_fen
        move(session, order, OrderStatus.harvested, actor.audit_label)
        notifications.notify(
            session,
            order.adopter_id,
            kind="adoption.harvest",
            title=N_("Your harvest is in: %(kg)s kg for adoption %(code)s"),
            params={"kg": f"{share.delivered_g / 1000:.1f}", "code": order.code},
            link=f"/adoption/orders/{order.code}",
        )
    audit.record(
        session,
        actor,
        "adoption.harvest.record",
        "adoption_offering",
        offering.id,
        after={
            "total_g": total_g,
            "remedy": command.remedy,
            "orders": len(orders),
            "made_up_g": made_up,
            "credit_fen": credited,
        },
    )
    events.publish(
        session,
        HarvestRecorded(
            organisation_id=offering.organisation_id, offering_id=offering.id, total_g=total_g
        ),
    )
    return harvest


def _share(
    session: Session,
    offering: Offering,
    harvest: Harvest,
    order: AdoptionOrder,
    share_g: int,
    remedy: str,
) -> HarvestShare:
    guaranteed = order.units * offering.guaranteed_g_per_unit
    shortfall = max(0, guaranteed - share_g)
    share = HarvestShare(
        harvest_id=harvest.id,
        order_id=order.id,
        share_g=share_g,
        guaranteed_g=guaranteed,
        delivered_g=share_g,
        made_up_g=0,
        credit_fen=0,
    )
    if shortfall and remedy == ShortfallRemedy.make_up:
        share.made_up_g = shortfall
        share.delivered_g = guaranteed
    elif shortfall:
        # The shortfall's part of the price, in whole fen (rounded down: never more than paid).
        share.credit_fen = order.amount_fen * shortfall // guaranteed
    session.add(share)
    if share.credit_fen:
        payment = payments.payment_of(session, order.payment_id)
        if payment is not None:
            left = payment.amount_fen - payment.refunded_fen
            share.credit_fen = min(share.credit_fen, left)
            if share.credit_fen > 0:
                payments.refund(
                    session,
                    payment,
                    amount_fen=share.credit_fen,
                    reason="harvest shortfall",
                    requested_by=None,
                )
    return share


def harvest_of(session: Session, offering_id: int) -> Harvest | None:
    return session.scalar(select(Harvest).where(Harvest.offering_id == offering_id))


def share_of(session: Session, order_id: int) -> HarvestShare | None:
    return session.scalar(select(HarvestShare).where(HarvestShare.order_id == order_id))


def shares(session: Session, harvest: Harvest) -> list[tuple[HarvestShare, str]]:
    return [
        (share, code)
        for share, code in session.execute(
            select(HarvestShare, AdoptionOrder.code)
            .join(AdoptionOrder, AdoptionOrder.id == HarvestShare.order_id)
            .where(HarvestShare.harvest_id == harvest.id)
            .order_by(HarvestShare.id)
        ).all()
    ]
