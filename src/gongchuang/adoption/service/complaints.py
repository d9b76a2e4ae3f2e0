"""Complaints about the harvest received, within 14 days, with photos; and their resolution
by the farm, with a refund when it is upheld."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.adoption.models import AdoptionOrder, Complaint, ComplaintStatus, OrderStatus
from gongchuang.adoption.schemas import ComplaintIn, ComplaintResolutionIn
from gongchuang.adoption.service._common import offering_to_manage, own_order
from gongchuang.adoption.service.diary import check_own_photos
from gongchuang.core import audit, notifications, payments
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal

COMPLAINT_WINDOW = timedelta(days=14)


def complain(session: Session, actor: Principal, code: str, command: ComplaintIn) -> Complaint:
    order = own_order(session, actor, code)
    if actor.person_id is None:
        raise LookupError("a complaint needs a person")
    if order.status not in (OrderStatus.shipped, OrderStatus.delivered):
        raise Conflict(N_("A complaint is about a harvest that was sent"))
    if order.delivered_at is not None and utcnow() - order.delivered_at > COMPLAINT_WINDOW:
        raise Conflict(N_("Complaints are taken within 14 days of delivery"))
    check_own_photos(session, actor, command.photo_file_ids)
    complaint = Complaint(
        order_id=order.id,
        author_id=actor.person_id,
        body=command.body,
        photo_file_ids=list(command.photo_file_ids),
    )
    try:
        with session.begin_nested():
            session.add(complaint)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("Your complaint about this adoption is still being handled")) from None
    audit.record(session, actor, "adoption.complaint.open", "adoption_complaint", complaint.id)
    return complaint


def complaint_to_manage(
    session: Session, actor: Principal, complaint_id: int
) -> tuple[Complaint, AdoptionOrder]:
    complaint = session.get(Complaint, complaint_id)
    order = session.get(AdoptionOrder, complaint.order_id) if complaint else None
    if complaint is None or order is None:
        raise NotFound()
    offering_to_manage(session, actor, order.offering_id)
    return complaint, order


def resolve(
    session: Session, actor: Principal, complaint_id: int, command: ComplaintResolutionIn
) -> Complaint:
    complaint, order = complaint_to_manage(session, actor, complaint_id)
    if complaint.status != ComplaintStatus.open:
        raise Conflict(N_("This complaint has already been answered"))
    if command.refund_fen and command.outcome != ComplaintStatus.resolved:
        raise InvalidInput(
            N_("A refund goes with a complaint that is upheld"),
            errors=[{"field": "refund_fen", "message": N_("only when upheld")}],
        )
    if command.refund_fen:
        payment = payments.payment_of(session, order.payment_id)
        if payment is None:
            raise Conflict(N_("This adoption has no payment to refund"))
        payments.refund(
            session,
            payment,
            amount_fen=command.refund_fen,
            reason="complaint upheld",
            requested_by=actor.person_id,
        )
    complaint.status = command.outcome
    complaint.resolution = command.resolution
    complaint.refund_fen = command.refund_fen
    complaint.resolved_by = actor.person_id
    complaint.resolved_at = utcnow()
    audit.record(
        session,
        actor,
        "adoption.complaint.resolve",
        "adoption_complaint",
        complaint.id,
        after={"status": complaint.status, "refund_fen": complaint.refund_fen},
    )
    notifications.notify(
        session,
        order.adopter_id,
        kind="adoption.complaint",
        title=N_("The farm answered your complaint about adoption %(code)s"),
        params={"code": order.code},
        link=f"/adoption/orders/{order.code}",
    )
    return complaint


def complaints_of_order(session: Session, order_id: int) -> list[Complaint]:
    return list(
        session.scalars(
            select(Complaint).where(Complaint.order_id == order_id).order_by(Complaint.id)
        )
    )


def open_complaints(session: Session, offering_id: int) -> list[tuple[Complaint, AdoptionOrder]]:
    return [
        (c, o)
        for c, o in session.execute(
            select(Complaint, AdoptionOrder)
            .join(AdoptionOrder, AdoptionOrder.id == Complaint.order_id)
            .where(AdoptionOrder.offering_id == offering_id)
            .order_by(Complaint.status, Complaint.id.desc())
        ).all()
    ]
